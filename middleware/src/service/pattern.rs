//! Service names and glob patterns, as tools take them (`shmbus record`, the bridge's
//! export and import lists): `robot/imu`, `robot/*`, `robot/**`, `cam?/image`.

/// A service name, or a glob over service names: `*` is any run of characters within one
/// `/`-separated segment, `**` any run including `/`, `?` one character other than `/`.
/// Everything else matches itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServicePattern {
    text: String,
}

impl ServicePattern {
    /// The pattern `text`.
    pub fn new(text: impl Into<String>) -> Self {
        Self { text: text.into() }
    }

    /// The pattern that matches every service (`**`).
    pub fn everything() -> Self {
        Self::new("**")
    }

    /// Its text.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether it names one service (has no wildcard).
    pub fn is_name(&self) -> bool {
        !self.text.contains(['*', '?'])
    }

    /// Whether `name` matches.
    pub fn matches(&self, name: &str) -> bool {
        let pattern: Vec<char> = self.text.chars().collect();
        let name: Vec<char> = name.chars().collect();
        matches(&pattern, &name)
    }
}

impl std::fmt::Display for ServicePattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// Glob matching by dynamic programming over (pattern position, name position): no
/// backtracking blow-up whatever the pattern.
fn matches(pattern: &[char], name: &[char]) -> bool {
    // reach[j]: the pattern read so far matches name[..j].
    let mut reach = vec![false; name.len() + 1];
    reach[0] = true;
    let mut p = 0;
    while p < pattern.len() {
        let mut next = vec![false; name.len() + 1];
        match pattern[p] {
            '*' => {
                let any_depth = pattern.get(p + 1) == Some(&'*');
                if any_depth {
                    p += 1;
                }
                for j in 0..=name.len() {
                    next[j] =
                        reach[j] || (j > 0 && next[j - 1] && (any_depth || name[j - 1] != '/'));
                }
            }
            '?' => {
                for j in 1..=name.len() {
                    next[j] = reach[j - 1] && name[j - 1] != '/';
                }
            }
            c => {
                for j in 1..=name.len() {
                    next[j] = reach[j - 1] && name[j - 1] == c;
                }
            }
        }
        reach = next;
        p += 1;
    }
    reach[name.len()]
}

#[cfg(test)]
mod tests {
    use super::ServicePattern;

    fn m(pattern: &str, name: &str) -> bool {
        ServicePattern::new(pattern).matches(name)
    }

    #[test]
    fn names_match_themselves_only() {
        assert!(m("robot/imu", "robot/imu"));
        assert!(!m("robot/imu", "robot/imu2"));
        assert!(!m("robot/imu", "robot"));
        assert!(ServicePattern::new("robot/imu").is_name());
        assert!(!ServicePattern::new("robot/*").is_name());
    }

    #[test]
    fn a_star_stays_within_a_segment() {
        assert!(m("robot/*", "robot/imu"));
        assert!(m("robot/*", "robot/"));
        assert!(!m("robot/*", "robot/arm/joint"));
        assert!(m("*/imu", "robot/imu"));
        assert!(m("robot/*/joint", "robot/arm/joint"));
        assert!(m("cam*", "camera"));
    }

    #[test]
    fn a_double_star_crosses_segments() {
        assert!(m("**", "a/b/c"));
        assert!(m("**", ""));
        assert!(m("robot/**", "robot/arm/joint"));
        assert!(m("**/joint", "robot/arm/joint"));
        assert!(!m("**/joint", "robot/arm/joints"));
    }

    #[test]
    fn a_question_mark_is_one_character() {
        assert!(m("cam?/image", "cam0/image"));
        assert!(!m("cam?/image", "cam/image"));
        assert!(!m("a?b", "a/b"));
    }

    #[test]
    fn long_patterns_do_not_blow_up() {
        let name = "a".repeat(200);
        let pattern = "*a".repeat(100) + "b";
        assert!(!m(&pattern, &name));
    }
}
