//! Wildcard patterns: `*` matches any run of characters, `\*` and `\\` are literals.

use std::collections::BTreeSet;

/// One compiled wildcard pattern.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Wildcard {
    tokens: Vec<Token>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Token {
    Star,
    Byte(u8),
}

impl Token {
    /// The literal byte, if this is one.
    fn byte(&self) -> Option<u8> {
        match self {
            Token::Byte(b) => Some(*b),
            Token::Star => None,
        }
    }
}

/// The pattern as written (with `\*` and `\\` for literal stars and backslashes).
impl std::fmt::Display for Wildcard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut text = Vec::with_capacity(self.tokens.len());
        for token in &self.tokens {
            match token {
                Token::Star => text.push(b'*'),
                Token::Byte(b @ (b'*' | b'\\')) => text.extend([b'\\', *b]),
                Token::Byte(b) => text.push(*b),
            }
        }
        f.write_str(&String::from_utf8_lossy(&text))
    }
}

/// The bytes that can move the machines differently: those the patterns name, and one
/// they do not (which only feeds the stars).
fn alphabet(machines: &[Vec<Token>]) -> BTreeSet<u8> {
    let mut alphabet: BTreeSet<u8> = machines.iter().flatten().filter_map(Token::byte).collect();
    let other = (0u8..=255).find(|b| !alphabet.contains(b));
    alphabet.extend(other);
    alphabet
}

impl Wildcard {
    /// Parses with event-ruler's rules and wording; positions count the bytes of the
    /// quoted value, as AWS reports them.
    pub(crate) fn parse(text: &str) -> Result<Wildcard, String> {
        let bytes = text.as_bytes();
        let mut tokens = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'*' => {
                    if bytes.get(i + 1) == Some(&b'*') {
                        return Err(format!("Consecutive wildcard characters at pos {}", i + 1));
                    }
                    tokens.push(Token::Star);
                }
                b'\\' => match bytes.get(i + 1) {
                    Some(&next @ (b'*' | b'\\')) => {
                        tokens.push(Token::Byte(next));
                        i += 1;
                    }
                    _ => return Err(format!("Invalid escape character at pos {}", i + 1)),
                },
                b => tokens.push(Token::Byte(b)),
            }
            i += 1;
        }
        Ok(Wildcard { tokens })
    }

    /// The literal bytes before the first `*`: an index key for many wildcard rules.
    pub(crate) fn literal_prefix(&self) -> Vec<u8> {
        self.tokens.iter().map_while(Token::byte).collect()
    }

    /// The literal bytes after the last `*` (all of them without one): for wildcards
    /// that start with `*`, the index key instead of the empty prefix.
    pub(crate) fn literal_suffix(&self) -> Vec<u8> {
        let mut suffix: Vec<u8> = self.tokens.iter().rev().map_while(Token::byte).collect();
        suffix.reverse();
        suffix
    }

    /// The longest run of literal bytes (the first of equal ones): for wildcards that
    /// start and end with `*`, what a value must contain somewhere.
    pub(crate) fn longest_literal(&self) -> Vec<u8> {
        self.tokens
            .split(|t| *t == Token::Star)
            .fold(
                &[][..],
                |best, run| if run.len() > best.len() { run } else { best },
            )
            .iter()
            .filter_map(Token::byte)
            .collect()
    }

    /// Glob match with the classic single-backtrack algorithm: linear for one `*`,
    /// O(n·m) at worst, never exponential.
    pub(crate) fn is_match(&self, value: &[u8]) -> bool {
        let (mut p, mut v) = (0usize, 0usize);
        let mut star: Option<(usize, usize)> = None;
        while v < value.len() {
            match self.tokens.get(p) {
                Some(Token::Byte(b)) if *b == value[v] => {
                    p += 1;
                    v += 1;
                }
                Some(Token::Star) => {
                    star = Some((p, v));
                    p += 1;
                }
                _ => match star {
                    Some((sp, sv)) => {
                        p = sp + 1;
                        v = sv + 1;
                        star = Some((sp, sv + 1));
                    }
                    None => return false,
                },
            }
        }
        self.tokens[p..].iter().all(|t| *t == Token::Star)
    }

    /// Number of NFA states that a worst-case input keeps alive at once, over the union
    /// of `patterns` (each quoted, as event-ruler's byte machine sees them). Stops
    /// counting at `cap`.
    pub(crate) fn complexity(patterns: &[&Wildcard], cap: usize) -> usize {
        use rustc_hash::FxHashSet;
        let machines: Vec<Vec<Token>> = patterns.iter().map(|w| w.quoted()).collect();
        // A set of NFA positions is a bitset per machine (bit `i`: at token `i`; bit
        // `len`: accepted), all machines' words in one vector: cheap to step, hash and
        // compare, which is what loading thousands of wildcard rules spends its time on.
        let mut offsets = Vec::with_capacity(machines.len() + 1);
        offsets.push(0);
        for m in &machines {
            offsets.push(offsets[offsets.len() - 1] + m.len() / 64 + 1);
        }
        let words = offsets[machines.len()];
        let has = |set: &[u64], i: usize| set[i / 64] & (1 << (i % 64)) != 0;
        let put = |set: &mut [u64], i: usize| set[i / 64] |= 1 << (i % 64);
        // Moves every position at a star on past it too (stars match the empty string);
        // one pass upwards follows runs of them.
        let closure = |m: &[Token], set: &mut [u64]| {
            for (i, token) in m.iter().enumerate() {
                if *token == Token::Star && has(set, i) {
                    put(set, i + 1);
                }
            }
        };
        let alphabet = alphabet(&machines);
        let mut start = vec![0u64; words];
        for (k, m) in machines.iter().enumerate() {
            let set = &mut start[offsets[k]..offsets[k + 1]];
            put(set, 0);
            closure(m, set);
        }
        let mut seen: FxHashSet<Vec<u64>> = FxHashSet::default();
        seen.insert(start.clone());
        let mut queue = vec![start];
        let mut next = vec![0u64; words];
        let mut best = 0;
        while let Some(subset) = queue.pop() {
            let live: usize = machines
                .iter()
                .enumerate()
                .map(|(k, m)| {
                    let set = &subset[offsets[k]..offsets[k + 1]];
                    let all: u32 = set.iter().map(|w| w.count_ones()).sum();
                    all as usize - usize::from(has(set, m.len()))
                })
                .sum();
            best = best.max(live);
            if best >= cap || seen.len() > 20_000 {
                return best.min(cap);
            }
            for &byte in &alphabet {
                next.fill(0);
                for (k, m) in machines.iter().enumerate() {
                    let (from, to) = (
                        &subset[offsets[k]..offsets[k + 1]],
                        offsets[k]..offsets[k + 1],
                    );
                    let set = &mut next[to];
                    for (i, token) in m.iter().enumerate() {
                        if !has(from, i) {
                            continue;
                        }
                        match token {
                            Token::Star => put(set, i),
                            Token::Byte(b) if *b == byte => put(set, i + 1),
                            Token::Byte(_) => {}
                        }
                    }
                    closure(m, set);
                }
                if !seen.contains(next.as_slice()) {
                    seen.insert(next.clone());
                    queue.push(next.clone());
                }
            }
        }
        best
    }

    /// The pattern between quotes, as event-ruler's byte machine sees it.
    fn quoted(&self) -> Vec<Token> {
        let mut t = vec![Token::Byte(b'"')];
        t.extend_from_slice(&self.tokens);
        t.push(Token::Byte(b'"'));
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, v: &str) -> bool {
        Wildcard::parse(p).unwrap().is_match(v.as_bytes())
    }

    #[test]
    fn matches_like_a_glob() {
        assert!(m("*.png", "a.png"));
        assert!(m("*.png", ".png"));
        assert!(!m("*.png", "a.jpg"));
        assert!(m("a*b*c", "abc"));
        assert!(m("a*b*c", "axxbyyc"));
        assert!(!m("a*b*c", "axxbyy"));
        assert!(m("", ""));
        assert!(!m("", "x"));
        assert!(m("*", ""));
        assert!(m(r"a\*b", "a*b"));
        assert!(!m(r"a\*b", "axb"));
        assert!(m(r"a\\b", r"a\b"));
        assert!(m("/Users/*/dir/dir/doc.txt", "/Users/x/dir/dir/doc.txt"));
        assert!(!m("/Users/*/dir/dir/doc.txt", "/Users/x/dir/doc.txt"));
    }

    #[test]
    fn displays_as_written() {
        for text in ["*.png", r"a\*b*", r"a\\b", "", "*", "ünï*"] {
            assert_eq!(Wildcard::parse(text).unwrap().to_string(), text);
        }
    }

    #[test]
    fn longest_literal_is_the_longest_run_between_stars() {
        let longest = |p: &str| Wildcard::parse(p).map(|w| w.longest_literal()).unwrap();
        assert_eq!(longest("*ab*cde*f*"), b"cde");
        assert_eq!(longest("*ab*cd*"), b"ab");
        assert_eq!(longest(r"*a\*b*"), b"a*b");
        assert_eq!(longest("*"), b"");
        assert_eq!(longest("abc"), b"abc");
    }

    #[test]
    fn rejects_what_aws_rejects() {
        assert_eq!(
            Wildcard::parse("a**b").unwrap_err(),
            "Consecutive wildcard characters at pos 2"
        );
        assert_eq!(
            Wildcard::parse(r"a\b").unwrap_err(),
            "Invalid escape character at pos 2"
        );
        assert!(Wildcard::parse(r"a\").is_err());
    }

    /// The first implementation (sets of positions as `BTreeSet`s): the reference the
    /// bitset one must agree with.
    fn complexity_reference(patterns: &[&Wildcard], cap: usize) -> usize {
        use std::collections::{BTreeSet, HashSet};
        let machines: Vec<Vec<Token>> = patterns
            .iter()
            .map(|w| {
                let mut t = vec![Token::Byte(b'"')];
                t.extend_from_slice(&w.tokens);
                t.push(Token::Byte(b'"'));
                t
            })
            .collect();
        let closure = |m: &[Token], set: &mut BTreeSet<usize>| {
            let mut stack: Vec<usize> = set.iter().copied().collect();
            while let Some(i) = stack.pop() {
                if m.get(i) == Some(&Token::Star) && set.insert(i + 1) {
                    stack.push(i + 1);
                }
            }
        };
        let alphabet = alphabet(&machines);
        type Subset = Vec<BTreeSet<usize>>;
        let start: Subset = machines
            .iter()
            .map(|m| {
                let mut s = BTreeSet::from([0]);
                closure(m, &mut s);
                s
            })
            .collect();
        let mut seen: HashSet<Subset> = HashSet::from([start.clone()]);
        let mut queue = vec![start];
        let mut best = 0;
        while let Some(subset) = queue.pop() {
            let live: usize = subset
                .iter()
                .zip(&machines)
                .map(|(s, m)| s.iter().filter(|i| **i < m.len()).count())
                .sum();
            best = best.max(live);
            if best >= cap || seen.len() > 20_000 {
                return best.min(cap);
            }
            for &byte in &alphabet {
                let next: Subset = subset
                    .iter()
                    .zip(&machines)
                    .map(|(s, m)| {
                        let mut n = BTreeSet::new();
                        for &i in s {
                            match m.get(i) {
                                Some(Token::Star) => {
                                    n.insert(i);
                                }
                                Some(Token::Byte(b)) if *b == byte => {
                                    n.insert(i + 1);
                                }
                                _ => {}
                            }
                        }
                        closure(m, &mut n);
                        n
                    })
                    .collect();
                if seen.insert(next.clone()) {
                    queue.push(next);
                }
            }
        }
        best
    }

    proptest::proptest! {
        /// The bitset search finds what the reference finds, for sets of up to three
        /// wildcards, with and without a cap that stops the search early.
        #[test]
        fn complexity_agrees_with_the_reference(
            globs in proptest::collection::vec("[ab*:]{0,9}", 1..4),
            cap in 1usize..20,
        ) {
            let parsed: Vec<Wildcard> = globs.iter().filter_map(|g| Wildcard::parse(g).ok()).collect();
            let refs: Vec<&Wildcard> = parsed.iter().collect();
            proptest::prop_assert_eq!(
                Wildcard::complexity(&refs, cap),
                complexity_reference(&refs, cap),
                "{:?} cap {}", globs, cap
            );
            proptest::prop_assert_eq!(
                Wildcard::complexity(&refs, 1_000),
                complexity_reference(&refs, 1_000),
                "{:?}", globs
            );
        }
    }

    #[test]
    fn complexity_grows_with_stars_and_repetition() {
        let c = |p: &str| Wildcard::complexity(&[&Wildcard::parse(p).unwrap()], 100);
        assert_eq!(c("*.png"), 3);
        assert_eq!(c("arn:aws:events:us-east-1:*:event-bus/*"), 5);
        assert_eq!(c("/Users/*/dir/dir/dir/dir/dir/doc.txt"), 8);
        assert_eq!(c("*:*:*:*:*:event-bus/*"), 13);
    }
}
