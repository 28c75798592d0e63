//! Command-line flags as `--name value` or `--name=value` pairs. Two binaries with a handful of flags
//! do not justify a parser dependency; each binary's `Args` decides what the names mean.

use crate::Error;

/// Splits `args` (without the program name) into `(name, value)` pairs, names keeping their `--`.
///
/// Every flag takes exactly one value; a bare positional argument is reported as an unknown flag and
/// `-h`/`--help` anywhere yields [`Error::Help`].
pub fn flag_pairs(args: impl IntoIterator<Item = String>) -> Result<Vec<(String, String)>, Error> {
    let mut args = args.into_iter();
    let mut pairs = Vec::new();
    while let Some(arg) = args.next() {
        if arg == "-h" || arg == "--help" {
            return Err(Error::Help);
        }
        if !arg.starts_with("--") {
            return Err(Error::UnknownFlag(arg));
        }
        let pair = match arg.split_once('=') {
            Some((name, value)) => (name.to_owned(), value.to_owned()),
            None => {
                let value = args.next().ok_or_else(|| Error::MissingValue(arg.clone()))?;
                (arg, value)
            }
        };
        pairs.push(pair);
    }
    Ok(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|a| (*a).to_owned()).collect()
    }

    #[test]
    fn separate_and_inline_values_parse_alike() {
        let pairs = flag_pairs(strings(&["--listen", "127.0.0.1:0", "--profile=a=1:2:3"])).unwrap();
        assert_eq!(pairs, vec![("--listen".into(), "127.0.0.1:0".into()), ("--profile".into(), "a=1:2:3".into())]);
    }

    #[test]
    fn a_trailing_flag_without_value_is_rejected() {
        assert!(matches!(flag_pairs(strings(&["--listen"])), Err(Error::MissingValue(f)) if f == "--listen"));
    }

    #[test]
    fn positional_arguments_are_rejected() {
        assert!(matches!(flag_pairs(strings(&["listen"])), Err(Error::UnknownFlag(_))));
    }

    #[test]
    fn help_wins_over_everything() {
        assert!(matches!(flag_pairs(strings(&["--bogus", "x", "-h"])), Err(Error::Help)));
    }
}
