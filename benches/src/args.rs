//! Command-line options of the bench binaries: `--name value` pairs and nothing else, so the
//! runner's command lines read the same for every binary. Unknown names are errors.

use std::cell::RefCell;
use std::str::FromStr;

/// The `--name value` pairs of the command line.
pub struct Args {
    pairs: Vec<(String, String)>,
    used: RefCell<Vec<String>>,
}

impl Args {
    /// Parses the process's arguments.
    pub fn from_env() -> Result<Self, String> {
        Self::parse(std::env::args().skip(1))
    }

    fn parse(args: impl IntoIterator<Item = String>) -> Result<Self, String> {
        let mut pairs = Vec::new();
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            let name = arg
                .strip_prefix("--")
                .ok_or_else(|| format!("expected --name value, got {arg:?}"))?;
            let value = args
                .next()
                .ok_or_else(|| format!("--{name} needs a value"))?;
            pairs.push((name.to_owned(), value));
        }
        Ok(Args {
            pairs,
            used: RefCell::new(Vec::new()),
        })
    }

    /// The value of `--name`, if given.
    pub fn optional<T: FromStr>(&self, name: &str) -> Result<Option<T>, String> {
        self.used.borrow_mut().push(name.to_owned());
        match self.pairs.iter().rev().find(|(n, _)| n == name) {
            None => Ok(None),
            Some((_, value)) => value
                .parse()
                .map(Some)
                .map_err(|_| format!("--{name}: cannot read {value:?}")),
        }
    }

    /// The value of `--name`, or `default`.
    pub fn get<T: FromStr>(&self, name: &str, default: T) -> Result<T, String> {
        Ok(self.optional(name)?.unwrap_or(default))
    }

    /// The value of `--name`, which must be given.
    pub fn required<T: FromStr>(&self, name: &str) -> Result<T, String> {
        self.optional(name)?
            .ok_or_else(|| format!("--{name} is required"))
    }

    /// Fails if an option was given that no one asked for (a typo).
    pub fn finish(&self) -> Result<(), String> {
        let used = self.used.borrow();
        match self.pairs.iter().find(|(n, _)| !used.contains(n)) {
            Some((name, _)) => Err(format!("unknown option --{name}")),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Result<Args, String> {
        Args::parse(line.split_whitespace().map(str::to_owned))
    }

    #[test]
    fn reads_pairs_and_catches_mistakes() {
        let a = args("--port 0 --window 2.5").unwrap();
        assert_eq!(a.required::<u16>("port"), Ok(0));
        assert_eq!(a.get("window", 1.0), Ok(2.5));
        assert_eq!(a.get("warmup", 1.0), Ok(1.0));
        assert!(a.finish().is_ok());
        assert!(a.required::<u16>("missing").is_err());

        let b = args("--port x --typo 1").unwrap();
        assert!(b.required::<u16>("port").is_err());
        assert_eq!(b.finish(), Err("unknown option --typo".into()));
        assert!(args("port 1").is_err());
        assert!(args("--port").is_err());
    }
}
