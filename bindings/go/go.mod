module wsconnector

go 1.19
