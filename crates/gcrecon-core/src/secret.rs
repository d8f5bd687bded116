//! [`Secret`]: a string that must never be printed, logged or stored in state.

use std::fmt;

/// A secret value (an OAuth client secret, an access token).
///
/// `Debug` and `Display` print `(sensitive)`; it implements neither
/// `Serialize` nor `Deserialize`, so it cannot end up in state or plans by
/// accident. The only way to the text is [`Secret::expose`], which is
/// greppable on purpose.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wrap a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret text. Call only where the secret is deliberately delivered:
    /// an `Authorization` header or the `--secrets-out` file.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(sensitive)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(sensitive)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_format() {
        let s = Secret::new("hunter2");
        assert_eq!(
            format!("{s} {s:?} {s:#?}"),
            "(sensitive) (sensitive) (sensitive)"
        );
        assert_eq!(s.expose(), "hunter2");
    }
}
