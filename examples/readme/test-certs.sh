# A CA of your own, and a server certificate it signs for localhost and 127.0.0.1 (a leaf:
# basicConstraints CA:FALSE). The server uses cert.pem and key.pem; clients trust ca.pem.
openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=Test CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign" \
    -keyout ca-key.pem -out ca.pem
openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout key.pem -out server.csr
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n' > server.ext
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 30 \
    -extfile server.ext -out cert.pem
