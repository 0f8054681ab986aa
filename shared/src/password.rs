//! Password generation and checking with the settings (and defaults) of the AWS rotation
//! templates, from the operating system's CSPRNG. Generating locally instead of calling
//! `GetRandomPassword` saves an API call per rotation and gives the same guarantees.

use crate::config::{ConfigError, Env};
use crate::secret::SecretText;

/// The punctuation set of Secrets Manager's `GetRandomPassword`.
pub const PUNCTUATION: &str = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";
/// Characters that break connection strings and shell quoting; the AWS templates' default.
pub const DEFAULT_EXCLUDED_CHARACTERS: &str = ":/@\"'\\";
pub const DEFAULT_LENGTH: usize = 32;
/// `GetRandomPassword`'s upper bound.
pub const MAX_LENGTH: usize = 4096;

/// The settings as a person writes them (environment variables of the same names, upper case).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordSettings {
    pub length: usize,
    pub exclude_characters: String,
    pub exclude_numbers: bool,
    pub exclude_punctuation: bool,
    pub exclude_uppercase: bool,
    pub exclude_lowercase: bool,
    pub require_each_included_type: bool,
}

impl Default for PasswordSettings {
    fn default() -> Self {
        Self {
            length: DEFAULT_LENGTH,
            exclude_characters: DEFAULT_EXCLUDED_CHARACTERS.to_owned(),
            exclude_numbers: false,
            exclude_punctuation: false,
            exclude_uppercase: false,
            exclude_lowercase: false,
            require_each_included_type: true,
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PasswordError {
    #[error("the password settings leave no character to choose from")]
    NoCharacters,
    #[error("a password of {length} characters cannot hold one of each of the {classes} required character types")]
    TooShortForRequiredTypes { length: usize, classes: usize },
    #[error("the operating system's random number generator failed: {0}")]
    Randomness(String),
}

/// Why a candidate does not satisfy the policy. Deliberately vague about which character is
/// wrong: the message must not disclose any part of the password.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PolicyViolation {
    #[error("has {actual} characters, the policy requires {expected}")]
    WrongLength { expected: usize, actual: usize },
    #[error("contains a character the policy excludes")]
    ExcludedCharacter,
    #[error("lacks a required character type ({0})")]
    MissingType(&'static str),
}

/// A validated policy: the character classes that remain after the exclusions.
#[derive(Debug, Clone)]
pub struct PasswordPolicy {
    length: usize,
    classes: Vec<CharClass>,
    require_each: bool,
}

#[derive(Debug, Clone)]
struct CharClass {
    name: &'static str,
    chars: Vec<char>,
}

impl PasswordSettings {
    /// `PASSWORD_LENGTH`, `EXCLUDE_CHARACTERS`, `EXCLUDE_NUMBERS`, `EXCLUDE_PUNCTUATION`,
    /// `EXCLUDE_UPPERCASE`, `EXCLUDE_LOWERCASE`, `REQUIRE_EACH_INCLUDED_TYPE`.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let defaults = Self::default();
        Ok(Self {
            length: env.number_or("PASSWORD_LENGTH", defaults.length, 1, MAX_LENGTH)?,
            // Taken as written: a space may be one of the characters to exclude, and an empty
            // value means "exclude nothing", as in the AWS templates.
            exclude_characters: env
                .raw("EXCLUDE_CHARACTERS")
                .map_or(defaults.exclude_characters, str::to_owned),
            exclude_numbers: env.bool_or("EXCLUDE_NUMBERS", defaults.exclude_numbers)?,
            exclude_punctuation: env
                .bool_or("EXCLUDE_PUNCTUATION", defaults.exclude_punctuation)?,
            exclude_uppercase: env.bool_or("EXCLUDE_UPPERCASE", defaults.exclude_uppercase)?,
            exclude_lowercase: env.bool_or("EXCLUDE_LOWERCASE", defaults.exclude_lowercase)?,
            require_each_included_type: env.bool_or(
                "REQUIRE_EACH_INCLUDED_TYPE",
                defaults.require_each_included_type,
            )?,
        })
    }
}

impl PasswordPolicy {
    pub fn new(settings: &PasswordSettings) -> Result<Self, PasswordError> {
        let kept = |chars: &str| -> Vec<char> {
            chars
                .chars()
                .filter(|c| !settings.exclude_characters.contains(*c))
                .collect()
        };
        let candidates = [
            (
                "lowercase",
                !settings.exclude_lowercase,
                "abcdefghijklmnopqrstuvwxyz",
            ),
            (
                "uppercase",
                !settings.exclude_uppercase,
                "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
            ),
            ("numbers", !settings.exclude_numbers, "0123456789"),
            ("punctuation", !settings.exclude_punctuation, PUNCTUATION),
        ];
        // A class emptied by EXCLUDE_CHARACTERS is treated as excluded rather than as an
        // impossible requirement.
        let classes: Vec<CharClass> = candidates
            .into_iter()
            .filter(|(_, included, _)| *included)
            .map(|(name, _, chars)| CharClass {
                name,
                chars: kept(chars),
            })
            .filter(|class| !class.chars.is_empty())
            .collect();
        if classes.is_empty() {
            return Err(PasswordError::NoCharacters);
        }
        if settings.require_each_included_type && settings.length < classes.len() {
            return Err(PasswordError::TooShortForRequiredTypes {
                length: settings.length,
                classes: classes.len(),
            });
        }
        Ok(Self {
            length: settings.length,
            classes,
            require_each: settings.require_each_included_type,
        })
    }

    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Self::new(&PasswordSettings::from_env(env)?).map_err(|error| ConfigError::Invalid {
            name: "PASSWORD_LENGTH",
            reason: error.to_string(),
        })
    }

    pub fn length(&self) -> usize {
        self.length
    }

    pub fn generate(&self) -> Result<SecretText, PasswordError> {
        let mut random = OsRandom::new();
        let all: Vec<char> = self
            .classes
            .iter()
            .flat_map(|class| class.chars.iter().copied())
            .collect();
        let mut password: Vec<char> = Vec::with_capacity(self.length);
        if self.require_each {
            for class in &self.classes {
                password.push(class.chars[random.below(class.chars.len())?]);
            }
        }
        while password.len() < self.length {
            password.push(all[random.below(all.len())?]);
        }
        // Fisher-Yates, so the guaranteed characters are not always at the front.
        for i in (1..password.len()).rev() {
            let j = random.below(i + 1)?;
            password.swap(i, j);
        }
        Ok(SecretText::new(password.into_iter().collect::<String>()))
    }

    pub fn check(&self, candidate: &str) -> Result<(), PolicyViolation> {
        let actual = candidate.chars().count();
        if actual != self.length {
            return Err(PolicyViolation::WrongLength {
                expected: self.length,
                actual,
            });
        }
        if !candidate
            .chars()
            .all(|c| self.classes.iter().any(|class| class.chars.contains(&c)))
        {
            return Err(PolicyViolation::ExcludedCharacter);
        }
        if self.require_each {
            if let Some(class) = self
                .classes
                .iter()
                .find(|class| !candidate.chars().any(|c| class.chars.contains(&c)))
            {
                return Err(PolicyViolation::MissingType(class.name));
            }
        }
        Ok(())
    }
}

/// Uniform indices from the OS CSPRNG, read in blocks to keep system calls few.
struct OsRandom {
    block: [u8; 256],
    used: usize,
}

impl OsRandom {
    fn new() -> Self {
        Self {
            block: [0; 256],
            used: 256,
        }
    }

    fn next_u32(&mut self) -> Result<u32, PasswordError> {
        if self.used + 4 > self.block.len() {
            getrandom::fill(&mut self.block)
                .map_err(|error| PasswordError::Randomness(error.to_string()))?;
            self.used = 0;
        }
        let bytes = [
            self.block[self.used],
            self.block[self.used + 1],
            self.block[self.used + 2],
            self.block[self.used + 3],
        ];
        self.used += 4;
        Ok(u32::from_le_bytes(bytes))
    }

    /// A uniform value in `0..n` (n > 0, small): rejection sampling avoids modulo bias.
    fn below(&mut self, n: usize) -> Result<usize, PasswordError> {
        let n =
            u32::try_from(n).map_err(|_| PasswordError::Randomness("range too large".into()))?;
        let zone = u32::MAX - (u32::MAX % n);
        loop {
            let value = self.next_u32()?;
            if value < zone {
                return Ok((value % n) as usize);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(settings: PasswordSettings) -> PasswordPolicy {
        PasswordPolicy::new(&settings).unwrap()
    }

    #[test]
    fn defaults_match_the_aws_templates() {
        let settings = PasswordSettings::from_env(&Env::default()).unwrap();
        assert_eq!(settings, PasswordSettings::default());
        assert_eq!(settings.length, 32);
        assert_eq!(settings.exclude_characters, ":/@\"'\\");
        assert!(settings.require_each_included_type);
    }

    #[test]
    fn settings_are_read_from_the_environment() {
        let env = Env::from_pairs([
            ("PASSWORD_LENGTH", "20"),
            ("EXCLUDE_CHARACTERS", " ab"),
            ("EXCLUDE_PUNCTUATION", "true"),
            ("REQUIRE_EACH_INCLUDED_TYPE", "false"),
        ]);
        let settings = PasswordSettings::from_env(&env).unwrap();
        assert_eq!(settings.length, 20);
        assert_eq!(settings.exclude_characters, " ab");
        assert!(settings.exclude_punctuation && !settings.require_each_included_type);
        let empty = Env::from_pairs([("EXCLUDE_CHARACTERS", "")]);
        assert_eq!(
            PasswordSettings::from_env(&empty)
                .unwrap()
                .exclude_characters,
            ""
        );
    }

    #[test]
    fn invalid_settings_name_the_variable() {
        let env = Env::from_pairs([("PASSWORD_LENGTH", "0")]);
        assert!(matches!(
            PasswordSettings::from_env(&env),
            Err(ConfigError::Invalid {
                name: "PASSWORD_LENGTH",
                ..
            })
        ));
        let env = Env::from_pairs([("EXCLUDE_NUMBERS", "perhaps")]);
        assert!(matches!(
            PasswordSettings::from_env(&env),
            Err(ConfigError::Invalid {
                name: "EXCLUDE_NUMBERS",
                ..
            })
        ));
    }

    #[test]
    fn generated_passwords_satisfy_the_policy_and_differ() {
        let p = policy(PasswordSettings::default());
        let mut seen = std::collections::HashSet::new();
        for _ in 0..200 {
            let password = p.generate().unwrap();
            assert_eq!(p.check(password.expose()), Ok(()));
            assert!(!password
                .expose()
                .chars()
                .any(|c| DEFAULT_EXCLUDED_CHARACTERS.contains(c)));
            seen.insert(password.expose().to_owned());
        }
        assert_eq!(seen.len(), 200);
    }

    #[test]
    fn every_required_type_appears_even_in_the_shortest_password() {
        let p = policy(PasswordSettings {
            length: 4,
            ..PasswordSettings::default()
        });
        for _ in 0..500 {
            let password = p.generate().unwrap();
            let s = password.expose();
            assert!(s.chars().any(|c| c.is_ascii_lowercase()));
            assert!(s.chars().any(|c| c.is_ascii_uppercase()));
            assert!(s.chars().any(|c| c.is_ascii_digit()));
            assert!(s.chars().any(|c| PUNCTUATION.contains(c)));
        }
    }

    #[test]
    fn excluded_types_and_characters_never_appear() {
        let p = policy(PasswordSettings {
            length: 64,
            exclude_characters: "abc0".into(),
            exclude_punctuation: true,
            exclude_uppercase: true,
            ..PasswordSettings::default()
        });
        for _ in 0..100 {
            let password = p.generate().unwrap();
            assert!(password
                .expose()
                .chars()
                .all(|c| (c.is_ascii_lowercase() || c.is_ascii_digit()) && !"abc0".contains(c)));
        }
    }

    #[test]
    fn impossible_policies_are_rejected() {
        let none = PasswordSettings {
            exclude_lowercase: true,
            exclude_uppercase: true,
            exclude_numbers: true,
            exclude_punctuation: true,
            ..PasswordSettings::default()
        };
        assert_eq!(
            PasswordPolicy::new(&none).unwrap_err(),
            PasswordError::NoCharacters
        );
        let short = PasswordSettings {
            length: 3,
            ..PasswordSettings::default()
        };
        assert_eq!(
            PasswordPolicy::new(&short).unwrap_err(),
            PasswordError::TooShortForRequiredTypes {
                length: 3,
                classes: 4
            }
        );
        let short_ok = PasswordSettings {
            length: 3,
            require_each_included_type: false,
            ..PasswordSettings::default()
        };
        assert!(PasswordPolicy::new(&short_ok).is_ok());
    }

    #[test]
    fn a_class_emptied_by_exclusions_is_not_required() {
        let p = policy(PasswordSettings {
            exclude_characters: "0123456789".into(),
            ..PasswordSettings::default()
        });
        let password = p.generate().unwrap();
        assert_eq!(p.check(password.expose()), Ok(()));
        assert!(!password.expose().chars().any(|c| c.is_ascii_digit()));
    }

    #[test]
    fn check_reports_without_disclosing_characters() {
        let p = policy(PasswordSettings {
            length: 8,
            ..PasswordSettings::default()
        });
        assert_eq!(
            p.check("aB3$aB3"),
            Err(PolicyViolation::WrongLength {
                expected: 8,
                actual: 7
            })
        );
        assert_eq!(p.check("aB3$aB3:"), Err(PolicyViolation::ExcludedCharacter));
        assert_eq!(
            p.check("aB3xaB3x"),
            Err(PolicyViolation::MissingType("punctuation"))
        );
        assert_eq!(p.check("aB3$aB3%"), Ok(()));
        assert!(!PolicyViolation::ExcludedCharacter.to_string().contains(':'));
    }
}
