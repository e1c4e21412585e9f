//! A PutEvents entry's `Detail`, checked and written into the envelope without a
//! [`serde_json::Value`] in between.
//!
//! The envelope's `detail` has always been the entry's text parsed into a `Value` and
//! serialized again (serde_json with `preserve_order`): whitespace dropped, keys in their
//! order, escapes rewritten, numbers as serde_json reads and writes them. [`write_detail`]
//! writes exactly those bytes. Mostly they are the input without its whitespace, so it copies
//! spans of the input and hands serde_json only the tokens whose text changes (a string with
//! escapes, a number that is not a plain 64-bit integer). Whatever it is not sure of (a key
//! with escapes, a key twice in one object, deep nesting, anything malformed) goes the old
//! way, through a `Value`: that path decides every rejection, so both accept the same texts.

use serde_json::Value;

/// Deeper than this, the detail goes through a `Value` (serde_json refuses 128 levels).
const MAX_FAST_DEPTH: usize = 64;

/// The fast walk gives up: the detail goes through a `Value`.
struct GiveUp;

/// Appends to `out` the JSON text of `text` parsed into a [`Value`] and serialized again,
/// if `text` is a JSON object; else returns `false` (and leaves `out` as it was).
pub(crate) fn write_detail(text: &str, out: &mut Vec<u8>) -> bool {
    thread_local! {
        /// The keys buffer of [`Walk`], kept between calls.
        static KEYS: std::cell::Cell<Vec<(usize, usize)>> = const { std::cell::Cell::new(Vec::new()) };
    }
    let start = out.len();
    // Whitespace dropped, the output is no longer than the text but for rewritten tokens.
    out.reserve(text.len());
    let mut walk = Walk {
        text,
        b: text.as_bytes(),
        i: 0,
        copied: 0,
        out,
        keys: KEYS.take(),
    };
    let fast = walk.document();
    let mut keys = walk.keys;
    keys.clear();
    KEYS.set(keys);
    if fast.is_ok() {
        return true;
    }
    out.truncate(start);
    match serde_json::from_str::<Value>(text) {
        Ok(v @ Value::Object(_)) => {
            // Writing JSON into a vector cannot fail.
            let _ = serde_json::to_writer(&mut *out, &v);
            true
        }
        _ => false,
    }
}

/// Appends `s` as a JSON string, as serde_json writes it.
pub(crate) fn write_str(out: &mut Vec<u8>, s: &str) {
    if plain_len(s.as_bytes()) < s.len() {
        // Writing JSON into a vector cannot fail.
        let _ = serde_json::to_writer(&mut *out, s);
    } else {
        out.reserve(s.len() + 2);
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    }
}

/// The bytes serde_json escapes in a string (`"`, `\`, controls); others it writes as they are.
fn needs_escape(b: u8) -> bool {
    b < 0x20 || b == b'"' || b == b'\\'
}

/// How many bytes of `b` serde_json writes as they are before the first it escapes (or
/// that ends a string without escapes), eight at a time.
fn plain_len(b: &[u8]) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    // The high bit of each byte of `x` that is zero / below 0x20 (exact as to whether any is).
    let zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS;
    let below_0x20 = |x: u64| x.wrapping_sub(ONES * 0x20) & !x & HIGHS;
    let mut chunks = b.chunks_exact(8);
    let mut k = 0;
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let x = u64::from_le_bytes(word);
        let quote = zero(x ^ (ONES * u64::from(b'"')));
        let backslash = zero(x ^ (ONES * u64::from(b'\\')));
        if quote | backslash | below_0x20(x) != 0 {
            break;
        }
        k += 8;
    }
    k + b[k..].iter().take_while(|&&c| !needs_escape(c)).count()
}

struct Walk<'t, 'o> {
    text: &'t str,
    b: &'t [u8],
    i: usize,
    /// `b[..copied]` is written to `out` (or replaced there by what serde_json wrote).
    copied: usize,
    out: &'o mut Vec<u8>,
    /// The keys (spans of `b`) of the objects being walked, innermost last.
    keys: Vec<(usize, usize)>,
}

impl Walk<'_, '_> {
    fn document(&mut self) -> Result<(), GiveUp> {
        self.skip_ws();
        if self.peek() != Some(b'{') {
            return Err(GiveUp);
        }
        self.object(1)?;
        self.skip_ws();
        if self.i != self.b.len() {
            return Err(GiveUp);
        }
        self.flush(self.i);
        Ok(())
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    /// Writes the input not yet written, up to `to`.
    fn flush(&mut self, to: usize) {
        self.out.extend_from_slice(&self.b[self.copied..to]);
        self.copied = to;
    }

    /// Skips JSON whitespace, which serde_json does not write back.
    fn skip_ws(&mut self) {
        if !matches!(self.peek(), Some(b' ' | b'\n' | b'\r' | b'\t')) {
            return;
        }
        self.flush(self.i);
        while matches!(self.peek(), Some(b' ' | b'\n' | b'\r' | b'\t')) {
            self.i += 1;
        }
        self.copied = self.i;
    }

    fn expect(&mut self, c: u8) -> Result<(), GiveUp> {
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            Err(GiveUp)
        }
    }

    fn value(&mut self, depth: usize) -> Result<(), GiveUp> {
        match self.peek() {
            Some(b'{') => self.object(depth + 1),
            Some(b'[') => self.array(depth + 1),
            Some(b'"') => self.string_value(),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(b't') => self.literal(b"true"),
            Some(b'f') => self.literal(b"false"),
            Some(b'n') => self.literal(b"null"),
            _ => Err(GiveUp),
        }
    }

    fn literal(&mut self, word: &[u8]) -> Result<(), GiveUp> {
        if self.b[self.i..].starts_with(word) {
            self.i += word.len();
            Ok(())
        } else {
            Err(GiveUp)
        }
    }

    fn object(&mut self, depth: usize) -> Result<(), GiveUp> {
        if depth > MAX_FAST_DEPTH {
            return Err(GiveUp);
        }
        self.i += 1;
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.i += 1;
            return Ok(());
        }
        let first_key = self.keys.len();
        loop {
            let key = self.key()?;
            self.keys.push(key);
            self.skip_ws();
            self.expect(b':')?;
            self.skip_ws();
            self.value(depth)?;
            if self.end_of_members(b'}')? {
                break;
            }
        }
        // A key twice: a `Value` keeps the first one's place and the last one's value.
        if has_duplicate(self.b, &self.keys[first_key..]) {
            return Err(GiveUp);
        }
        self.keys.truncate(first_key);
        Ok(())
    }

    fn array(&mut self, depth: usize) -> Result<(), GiveUp> {
        if depth > MAX_FAST_DEPTH {
            return Err(GiveUp);
        }
        self.i += 1;
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.i += 1;
            return Ok(());
        }
        loop {
            self.value(depth)?;
            if self.end_of_members(b']')? {
                return Ok(());
            }
        }
    }

    /// After a member of an object or array: `true` past its `close`, `false` past a `,`
    /// (and the whitespace after it).
    fn end_of_members(&mut self, close: u8) -> Result<bool, GiveUp> {
        self.skip_ws();
        match self.peek() {
            Some(b',') => {
                self.i += 1;
                self.skip_ws();
                Ok(false)
            }
            Some(c) if c == close => {
                self.i += 1;
                Ok(true)
            }
            _ => Err(GiveUp),
        }
    }

    /// A key without escapes (written as it is); its contents' span.
    fn key(&mut self) -> Result<(usize, usize), GiveUp> {
        if self.peek() != Some(b'"') {
            return Err(GiveUp);
        }
        let start = self.i + 1;
        let end = self.plain_string_end(start);
        if self.b.get(end) != Some(&b'"') {
            return Err(GiveUp);
        }
        self.i = end + 1;
        Ok((start, end))
    }

    /// The index of the first byte from `from` that ends a string without escapes or
    /// interrupts it (`"`, `\`, a control), or the end of the text.
    fn plain_string_end(&self, from: usize) -> usize {
        from + plain_len(&self.b[from..])
    }

    fn string_value(&mut self) -> Result<(), GiveUp> {
        let open = self.i;
        let end = self.plain_string_end(open + 1);
        match self.b.get(end) {
            Some(b'"') => {
                self.i = end + 1;
                Ok(())
            }
            // Escapes: serde_json reads the string and writes it back its own way.
            Some(b'\\') => {
                let close = self.escaped_string_end(end)?;
                let decoded: String =
                    serde_json::from_str(&self.text[open..=close]).map_err(|_| GiveUp)?;
                self.flush(open);
                write_str(self.out, &decoded);
                self.i = close + 1;
                self.copied = self.i;
                Ok(())
            }
            _ => Err(GiveUp),
        }
    }

    /// The index of the closing quote of a string with escapes, the first at `from`.
    fn escaped_string_end(&self, mut from: usize) -> Result<usize, GiveUp> {
        loop {
            match self.b.get(from) {
                // The escaped character, whatever it is, does not end the string.
                Some(b'\\') => from += 2,
                Some(b'"') => return Ok(from),
                Some(_) => from += 1,
                None => return Err(GiveUp),
            }
        }
    }

    /// A number as JSON's grammar has it. Written back as it is when serde_json writes it
    /// so: a plain integer it keeps as a 64-bit integer, or a short decimal (see
    /// [`short_decimal`]). Any other (an exponent, more digits, `-0`, `1.50`) is read and
    /// written by serde_json.
    fn number(&mut self) -> Result<(), GiveUp> {
        let start = self.i;
        let negative = self.peek() == Some(b'-');
        if negative {
            self.i += 1;
        }
        let digits_start = self.i;
        match self.peek() {
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => self.skip_digits(),
            _ => return Err(GiveUp),
        }
        let int_end = self.i;
        let mut fraction = None;
        if self.peek() == Some(b'.') {
            self.i += 1;
            let from = self.i;
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(GiveUp);
            }
            self.skip_digits();
            fraction = Some(&self.b[from..self.i]);
        }
        let mut exponent = false;
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.i += 1;
            }
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(GiveUp);
            }
            self.skip_digits();
            exponent = true;
        }
        let int = &self.b[digits_start..int_end];
        let kept = match (fraction, exponent) {
            // u64 holds every 19-digit number, i64 every negative 18-digit one but -0.
            (None, false) if negative => int.len() <= 18 && int[0] != b'0',
            (None, false) => int.len() <= 19,
            (Some(fraction), false) => short_decimal(int, fraction),
            _ => false,
        };
        if kept {
            return Ok(());
        }
        let number: serde_json::Number =
            serde_json::from_str(&self.text[start..self.i]).map_err(|_| GiveUp)?;
        self.flush(start);
        // Writing JSON into a vector cannot fail.
        let _ = serde_json::to_writer(&mut *self.out, &number);
        self.copied = self.i;
        Ok(())
    }

    fn skip_digits(&mut self) {
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.i += 1;
        }
    }
}

/// Whether serde_json writes the decimal `int.fraction` (or its negative) back as it is: the
/// shortest text that reads back as the same double, without an exponent. So it is when it
/// has at most 15 significant digits (two such decimals never read as the same double, so
/// no other of as few digits does), none of them a trailing zero, and lies in [0.1, 1e15)
/// (written without an exponent: serde_json's formatter does so from 1e-5 to below 1e16).
fn short_decimal(int: &[u8], fraction: &[u8]) -> bool {
    if fraction.last() == Some(&b'0') {
        return false;
    }
    match int {
        b"0" => fraction.first() != Some(&b'0') && fraction.len() <= 15,
        _ => int.len() + fraction.len() <= 15,
    }
}

/// Whether two of `keys` (spans of `b`) hold the same text.
fn has_duplicate(b: &[u8], keys: &[(usize, usize)]) -> bool {
    let text = |&(s, e): &(usize, usize)| &b[s..e];
    if keys.len() <= 16 {
        return keys
            .iter()
            .enumerate()
            .any(|(n, k)| keys[..n].iter().any(|j| text(j) == text(k)));
    }
    let mut sorted: Vec<&[u8]> = keys.iter().map(text).collect();
    sorted.sort_unstable();
    sorted.windows(2).any(|w| w[0] == w[1])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the envelope's `detail` was before: the text parsed into a `Value` and written
    /// again, if it is an object.
    fn through_value(text: &str) -> Option<String> {
        match serde_json::from_str::<Value>(text) {
            Ok(v @ Value::Object(_)) => Some(v.to_string()),
            _ => None,
        }
    }

    fn written(text: &str) -> Option<String> {
        let mut out = b"prefix".to_vec();
        let ok = write_detail(text, &mut out);
        let out = String::from_utf8(out).expect("UTF-8");
        let rest = out.strip_prefix("prefix").expect("prefix kept");
        match ok {
            true => Some(rest.to_string()),
            false => {
                assert_eq!(rest, "", "nothing written for a refused detail");
                None
            }
        }
    }

    fn check(text: &str) {
        assert_eq!(written(text), through_value(text), "detail {text:?}");
    }

    #[test]
    fn details_are_written_as_a_value_writes_them() {
        let deep_ok = format!("{}1{}", "{\"a\":[".repeat(40), "]}".repeat(40));
        let deep_fallback = format!("{}1{}", "{\"a\":[".repeat(60), "]}".repeat(60));
        let too_deep = format!("{}1{}", "[".repeat(200), "]".repeat(200));
        let too_deep_object = format!("{{\"a\":{}1{}}}", "[".repeat(200), "]".repeat(200));
        let many_keys = format!(
            "{{{}}}",
            (0..40)
                .map(|k| format!("\"k{k}\": {k}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let many_keys_twice = format!("{}, \"k7\": \"again\"}}", &many_keys[..many_keys.len() - 1]);
        let cases = [
            r#"{}"#,
            r#" { } "#,
            "\t{\"a\"\r\n:\n1 }\n",
            r#"{"a":1}"#,
            r#"{"customer": "c1", "total": 25.5, "items": [{"sku": "A-1", "qty": 2}], "note": "bench"}"#,
            r#"{"n": 1.50, "big": 12345678901234567890, "neg": -0.0, "a": [true, null, {"x": "\u0041"}], "s": "é"}"#,
            r#"{"ints": [0, -0, 1, -1, 9223372036854775807, -9223372036854775808, 18446744073709551615, 18446744073709551616, -9223372036854775809, 999999999999999999, -999999999999999999, 9999999999999999999, -9999999999999999999]}"#,
            r#"{"floats": [0.0, -0.0, 1e3, 1E3, 1e+3, 1e-3, 1.5e300, 123.456e-7, 0.1, 2.50, 100.0, 1e16, 1e15, 12345678901234567.0]}"#,
            r#"{"short": [25.5, -25.5, 0.5, -0.5, 0.05, 0.123456789012345, 0.1234567890123456, 0.9999999999999999, 1.5, 99999999999999.9, 999999999999999.9, 123456789012345.6, 12345678901234.5, 1.00000000000001, 9007199254740993.5, 0.3, 2.675, 1.1, 4.35, 1.7976931348623157, 5e-324]}"#,
            r#"{"big": 1e309}"#,
            r#"{"small": 1e-400}"#,
            r#"{"s": "quote \" backslash \\ slash \/ \b\f\n\r\t \u0000 \u001f \u007f \u00e9 \ud83d\ude80"}"#,
            r#"{"lone": "\ud800"}"#,
            r#"{"lone": "\udc00x"}"#,
            r#"{"bad": "\x"}"#,
            r#"{"raw": "é ✓ 🚀 \u2028"}"#,
            "{\"control\": \"a\u{1}b\"}",
            "{\"del\": \"a\u{7f}b\"}",
            r#"{"a": 1, "a": 2}"#,
            r#"{"a": 1, "b": {"a": 2}, "c": [{"a": 3}, {"a": 4}]}"#,
            r#"{"a": {"x": 1, "x": {"y": 2}}, "b": 3}"#,
            r#"{"\u0061": 1, "a": 2}"#,
            r#"{"k\"ey": 1}"#,
            r#"{"empty": {}, "arr": [], "nested": [[], [{}], [[1]]]}"#,
            r#"{"t": true, "f": false, "n": null}"#,
            r#"[]"#,
            r#"[1, 2]"#,
            r#""text""#,
            r#"12"#,
            r#"null"#,
            r#""#,
            r#"   "#,
            r#"{"#,
            r#"{"a"}"#,
            r#"{"a":}"#,
            r#"{"a":1,}"#,
            r#"{"a":[1,]}"#,
            r#"{"a":[1 2]}"#,
            r#"{"a":01}"#,
            r#"{"a":-}"#,
            r#"{"a":1.}"#,
            r#"{"a":.5}"#,
            r#"{"a":1e}"#,
            r#"{"a":+1}"#,
            r#"{"a":1.5.3}"#,
            r#"{"a":tru}"#,
            r#"{"a":truex}"#,
            r#"{"a":NaN}"#,
            r#"{"a":1} x"#,
            r#"{"a":1}{}"#,
            r#"{a:1}"#,
            r#"{'a':1}"#,
            r#"{"a":"unterminated}"#,
            r#"{"a":"x\"#,
            "{\"a\":1}\u{a0}",
            "\u{feff}{}",
            &deep_ok,
            &deep_fallback,
            &too_deep,
            &too_deep_object,
            &many_keys,
            &many_keys_twice,
        ];
        for text in cases {
            check(text);
        }
    }

    /// Random details, and every prefix and one-byte change of some, agree with the
    /// `Value` round trip (deterministic: a fixed seed).
    #[test]
    fn random_details_are_written_as_a_value_writes_them() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let alphabet: Vec<char> = " \t\n{}[]:,\"\\/-+.0123456789eEtrufalsn aéu\u{1}"
            .chars()
            .collect();
        for _ in 0..3000 {
            let mut text = String::new();
            random_object(&mut rng, &mut text, 0);
            check(&text);
            let chars: Vec<char> = text.chars().collect();
            for _ in 0..4 {
                let mut mutated = chars.clone();
                let at = rng.below(mutated.len() + 1);
                match rng.below(3) {
                    0 if at < mutated.len() => {
                        mutated.remove(at);
                    }
                    1 if at < mutated.len() => mutated[at] = alphabet[rng.below(alphabet.len())],
                    _ => mutated.insert(at, alphabet[rng.below(alphabet.len())]),
                }
                check(&mutated.into_iter().collect::<String>());
            }
            let cut = rng.below(chars.len() + 1);
            check(&chars[..cut].iter().collect::<String>());
        }
    }

    /// Every event and fixture body the repository holds (the pattern cases, event-ruler's
    /// cases, the normalize fixtures), and each pattern too, as a detail.
    #[test]
    fn the_repository_s_events_are_written_as_a_value_writes_them() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut texts = Vec::new();
        let mut dirs = vec![root.join("patterns/tests/cases")];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).expect("cases dir") {
                let path = entry.expect("entry").path();
                if path.is_dir() {
                    dirs.push(path);
                } else if path.extension().is_some_and(|e| e == "jsonl") {
                    let lines = std::fs::read_to_string(&path).expect("cases");
                    for line in lines.lines().filter(|l| !l.trim().is_empty()) {
                        let case: Value = serde_json::from_str(line).expect("case line");
                        for field in ["event", "pattern"] {
                            if let Some(text) = case.get(field).and_then(Value::as_str) {
                                texts.push(text.to_string());
                            }
                        }
                    }
                }
            }
        }
        let fixtures = root.join("bridge/tests/fixtures/normalize");
        for entry in std::fs::read_dir(fixtures).expect("fixtures dir") {
            let path = entry.expect("entry").path();
            if path.extension().is_some_and(|e| e == "json") {
                texts.push(std::fs::read_to_string(&path).expect("fixture"));
            }
        }
        assert!(texts.len() > 3000, "{} texts", texts.len());
        for text in &texts {
            check(text);
        }
    }

    /// The serialized-envelope test's strings, and more, written as serde_json writes them.
    #[test]
    fn strings_are_written_as_serde_json_writes_them() {
        for s in [
            "",
            "plain",
            "quote \" backslash \\ slash /",
            "controls \u{0} \u{1f} \n \t \u{7f}",
            "unicode é ✓ 🚀 \u{2028}",
            "arn:aws:events:eu-west-1:123456789012:rule/x",
        ] {
            let mut out = Vec::new();
            write_str(&mut out, s);
            assert_eq!(out, serde_json::to_vec(s).expect("serialize"), "{s:?}");
        }
    }

    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            // xorshift64*
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n.max(1) as u64) as usize
        }
    }

    fn ws(rng: &mut Rng, out: &mut String) {
        const WS: [&str; 6] = ["", "", "", " ", "\n  ", "\t\r\n"];
        out.push_str(WS[rng.below(WS.len())]);
    }

    fn random_object(rng: &mut Rng, out: &mut String, depth: usize) {
        out.push('{');
        ws(rng, out);
        let n = rng.below(5);
        for k in 0..n {
            if k > 0 {
                out.push(',');
                ws(rng, out);
            }
            random_string(rng, out, true);
            ws(rng, out);
            out.push(':');
            ws(rng, out);
            random_value(rng, out, depth + 1);
            ws(rng, out);
        }
        out.push('}');
    }

    fn random_value(rng: &mut Rng, out: &mut String, depth: usize) {
        let pick = if depth > 4 {
            2 + rng.below(6)
        } else {
            rng.below(8)
        };
        match pick {
            0 => random_object(rng, out, depth),
            1 => {
                out.push('[');
                ws(rng, out);
                for k in 0..rng.below(4) {
                    if k > 0 {
                        out.push(',');
                        ws(rng, out);
                    }
                    random_value(rng, out, depth + 1);
                    ws(rng, out);
                }
                out.push(']');
            }
            2 | 3 => random_string(rng, out, false),
            4 | 5 => random_number(rng, out),
            6 => out.push_str(["true", "false", "null"][rng.below(3)]),
            _ => random_number(rng, out),
        }
    }

    fn random_string(rng: &mut Rng, out: &mut String, key: bool) {
        const PIECES: [&str; 14] = [
            "a",
            "b",
            "key",
            "é",
            "🚀",
            " ",
            "/",
            "\\\"",
            "\\\\",
            "\\n",
            "\\u0041",
            "\\u00e9",
            "\\ud83d\\ude80",
            "\\/",
        ];
        out.push('"');
        // Keys from a small set, so that objects hold the same key twice now and then.
        let n = if key { 1 + rng.below(2) } else { rng.below(5) };
        for _ in 0..n {
            let pieces = if key { 3 } else { PIECES.len() };
            out.push_str(PIECES[rng.below(pieces)]);
        }
        out.push('"');
    }

    fn random_number(rng: &mut Rng, out: &mut String) {
        if rng.below(3) == 0 {
            // A random decimal: sign, up to 17 digits each side, now and then an exponent.
            if rng.below(4) == 0 {
                out.push('-');
            }
            let digits = |rng: &mut Rng, out: &mut String, n: usize| {
                for _ in 0..n {
                    out.push(char::from(b'0' + rng.below(10) as u8));
                }
            };
            match rng.below(3) {
                0 => out.push('0'),
                _ => {
                    out.push(char::from(b'1' + rng.below(9) as u8));
                    let n = rng.below(17);
                    digits(rng, out, n);
                }
            }
            if rng.below(5) > 0 {
                out.push('.');
                let n = 1 + rng.below(17);
                digits(rng, out, n);
            }
            if rng.below(6) == 0 {
                out.push_str(["e", "E", "e-", "e+"][rng.below(4)]);
                let n = 1 + rng.below(3);
                digits(rng, out, n);
            }
            return;
        }
        const NUMBERS: [&str; 16] = [
            "0",
            "-0",
            "7",
            "-12",
            "25.5",
            "1.50",
            "1e3",
            "-2.5E-3",
            "18446744073709551615",
            "18446744073709551616",
            "-9223372036854775808",
            "-9223372036854775809",
            "0.1",
            "123456789012345678901234567890",
            "1e400",
            "3.0e+2",
        ];
        out.push_str(NUMBERS[rng.below(NUMBERS.len())]);
    }
}
