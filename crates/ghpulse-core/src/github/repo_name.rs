//! Repository names as GitHub accepts them.

use std::fmt;
use std::str::FromStr;

/// A validated `owner/name`. Equality and hashing ignore case, because GitHub does.
#[derive(Clone, Debug, Eq)]
pub struct RepoName {
    full: String,
    owner_len: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RepoNameError {
    #[error("{0:?} is not of the form owner/name")]
    Shape(String),
    #[error(
        "{0:?}: the owner must be 1 to 39 letters, digits or '-', not starting or ending with '-'"
    )]
    Owner(String),
    #[error(
        "{0:?}: the name must be 1 to 100 letters, digits, '.', '_' or '-', and not '.' or '..'"
    )]
    Name(String),
}

impl RepoName {
    pub fn parse(input: &str) -> Result<Self, RepoNameError> {
        let trimmed = input.trim();
        let Some((owner, name)) = trimmed.split_once('/') else {
            return Err(RepoNameError::Shape(input.to_string()));
        };
        if name.contains('/') {
            return Err(RepoNameError::Shape(input.to_string()));
        }
        let owner_ok = (1..=39).contains(&owner.len())
            && owner
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !owner.starts_with('-')
            && !owner.ends_with('-');
        if !owner_ok {
            return Err(RepoNameError::Owner(input.to_string()));
        }
        let name_ok = (1..=100).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
            && name != "."
            && name != "..";
        if !name_ok {
            return Err(RepoNameError::Name(input.to_string()));
        }
        Ok(RepoName {
            full: trimmed.to_string(),
            owner_len: owner.len(),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.full
    }

    pub fn owner(&self) -> &str {
        &self.full[..self.owner_len]
    }

    pub fn name(&self) -> &str {
        &self.full[self.owner_len + 1..]
    }

    /// The case-folded form under which the store files a repository.
    pub fn key(&self) -> String {
        self.full.to_ascii_lowercase()
    }
}

impl PartialEq for RepoName {
    fn eq(&self, other: &Self) -> bool {
        self.full.eq_ignore_ascii_case(&other.full)
    }
}

impl std::hash::Hash for RepoName {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.key().hash(state);
    }
}

impl fmt::Display for RepoName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.full)
    }
}

impl FromStr for RepoName {
    type Err = RepoNameError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RepoName::parse(s)
    }
}

impl serde::Serialize for RepoName {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.full)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_real_names() {
        for ok in [
            "rust-lang/rust",
            "a/b",
            "sigmavirus24/github3.py",
            "x/.github",
            "o/a_b-c.d",
        ] {
            assert!(RepoName::parse(ok).is_ok(), "{ok}");
        }
        let r = RepoName::parse("tokio-rs/tokio").unwrap();
        assert_eq!((r.owner(), r.name()), ("tokio-rs", "tokio"));
    }

    #[test]
    fn rejects_malformed_names() {
        let long_owner = format!("{}/x", "a".repeat(40));
        let long_name = format!("a/{}", "b".repeat(101));
        for bad in [
            "",
            "rust",
            "/rust",
            "rust/",
            "a/b/c",
            "a b/c",
            "-a/b",
            "a-/b",
            "a/.",
            "a/..",
            "a/b c",
            "ä/b",
            &long_owner,
            &long_name,
        ] {
            assert!(RepoName::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn compares_without_case() {
        let a = RepoName::parse("Rust-Lang/Rust").unwrap();
        let b = RepoName::parse("rust-lang/rust").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.key(), "rust-lang/rust");
        assert_eq!(a.to_string(), "Rust-Lang/Rust");
    }
}
