//! The lexer: turns one file's text into [`Token`]s with spans.
//!
//! Problems are not reported here: they become [`TokenKind::Error`] tokens, and the
//! preprocessor reports those that are not inside a skipped `#if` branch.
//! Keywords are not decided here either: the parser decides by context and mode.

use crate::source::{FileId, Span, clamp_u32};

/// Punctuation and operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Punct {
    /// `;`
    Semi,
    /// `{`
    LBrace,
    /// `}`
    RBrace,
    /// `(`
    LParen,
    /// `)`
    RParen,
    /// `[`
    LBracket,
    /// `]`
    RBracket,
    /// `<`
    Lt,
    /// `>`
    Gt,
    /// `<=`
    Le,
    /// `>=`
    Ge,
    /// `==`
    EqEq,
    /// `!=`
    Ne,
    /// `,`
    Comma,
    /// `:`
    Colon,
    /// `::`
    ColonColon,
    /// `=`
    Eq,
    /// `+`
    Plus,
    /// `-`
    Minus,
    /// `*`
    Star,
    /// `/`
    Slash,
    /// `%`
    Percent,
    /// `~`
    Tilde,
    /// `!`
    Bang,
    /// `&`
    Amp,
    /// `&&`
    AmpAmp,
    /// `|`
    Pipe,
    /// `||`
    PipePipe,
    /// `^`
    Caret,
    /// `<<`
    Shl,
    /// `>>`
    Shr,
    /// `@`
    At,
    /// `#`
    Hash,
    /// `.`
    Dot,
    /// `?`
    Question,
}

impl Punct {
    /// The source spelling.
    pub fn as_str(self) -> &'static str {
        use Punct::*;
        match self {
            Semi => ";",
            LBrace => "{",
            RBrace => "}",
            LParen => "(",
            RParen => ")",
            LBracket => "[",
            RBracket => "]",
            Lt => "<",
            Gt => ">",
            Le => "<=",
            Ge => ">=",
            EqEq => "==",
            Ne => "!=",
            Comma => ",",
            Colon => ":",
            ColonColon => "::",
            Eq => "=",
            Plus => "+",
            Minus => "-",
            Star => "*",
            Slash => "/",
            Percent => "%",
            Tilde => "~",
            Bang => "!",
            Amp => "&",
            AmpAmp => "&&",
            Pipe => "|",
            PipePipe => "||",
            Caret => "^",
            Shl => "<<",
            Shr => ">>",
            At => "@",
            Hash => "#",
            Dot => ".",
            Question => "?",
        }
    }
}

/// Why some text is not a token, and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LexError {
    /// What is wrong.
    pub message: String,
    /// What to do.
    pub help: &'static str,
}

impl LexError {
    fn new(message: impl Into<String>, help: &'static str) -> Self {
        LexError {
            message: message.into(),
            help,
        }
    }
}

/// What a token is.
#[derive(Debug, Clone, PartialEq)]
pub enum TokenKind {
    /// An identifier or keyword. `escaped` is true when written with a leading `_`
    /// (which is removed from `name` and makes it never a keyword).
    Ident {
        /// The name, without the escaping underscore.
        name: String,
        /// Whether the source spelled it with a leading `_`.
        escaped: bool,
    },
    /// An integer literal (decimal, octal or hex).
    Int(u64),
    /// A floating-point literal, as written.
    Float(String),
    /// A fixed-point literal such as `1.5d`, as written without the suffix.
    Fixed(String),
    /// A character literal (`'a'` or `L'a'`).
    Char {
        /// The character.
        value: char,
        /// `L'..'`.
        wide: bool,
    },
    /// A string literal (`"a"` or `L"a"`); adjacent literals are joined by the parser.
    Str {
        /// The contents with escapes resolved.
        value: String,
        /// `L".."`.
        wide: bool,
    },
    /// Punctuation.
    Punct(Punct),
    /// A comment, text without the delimiters.
    Comment(String),
    /// `#pragma keylist TYPE KEY...`, produced by the preprocessor.
    PragmaKeylist {
        /// The type name as written (may be scoped).
        type_name: String,
        /// The key member names.
        keys: Vec<String>,
    },
    /// Something that is not a token; the error says why and what to do.
    Error(LexError),
    /// End of input.
    Eof,
}

/// A token and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    /// What it is.
    pub kind: TokenKind,
    /// Where it is.
    pub span: Span,
    /// Whether a line break separates it from the previous token of the file.
    pub newline_before: bool,
}

impl Token {
    /// The identifier name, if this is an identifier.
    pub fn ident(&self) -> Option<&str> {
        match &self.kind {
            TokenKind::Ident { name, .. } => Some(name),
            _ => None,
        }
    }

    /// The identifier as spelled in the source (with an escaping `_` put back), as the
    /// preprocessor sees it.
    pub fn raw_ident(&self) -> Option<String> {
        match &self.kind {
            TokenKind::Ident {
                name,
                escaped: true,
            } => Some(format!("_{name}")),
            TokenKind::Ident {
                name,
                escaped: false,
            } => Some(name.clone()),
            _ => None,
        }
    }

    /// Whether this is an unescaped identifier spelled `word`.
    pub fn is_word(&self, word: &str) -> bool {
        matches!(&self.kind, TokenKind::Ident { name, escaped: false } if name == word)
    }

    /// Whether this is the punctuation `p`.
    pub fn is(&self, p: Punct) -> bool {
        self.kind == TokenKind::Punct(p)
    }
}

/// Lexes the whole `text` of `file`. The last token is always [`TokenKind::Eof`].
pub fn lex(file: FileId, text: &str) -> Vec<Token> {
    let mut lexer = Lexer {
        file,
        src: text.as_bytes(),
        text,
        pos: 0,
        newline: true,
        out: Vec::new(),
    };
    lexer.run();
    lexer.out
}

struct Lexer<'a> {
    file: FileId,
    src: &'a [u8],
    text: &'a str,
    pos: usize,
    newline: bool,
    out: Vec<Token>,
}

impl Lexer<'_> {
    fn peek(&self, ahead: usize) -> u8 {
        self.src.get(self.pos + ahead).copied().unwrap_or(0)
    }

    fn push(&mut self, kind: TokenKind, start: usize) {
        let span = Span::new(self.file, clamp_u32(start), clamp_u32(self.pos));
        let is_comment = matches!(kind, TokenKind::Comment(_));
        self.out.push(Token {
            kind,
            span,
            newline_before: self.newline,
        });
        if !is_comment {
            self.newline = false;
        }
    }

    fn run(&mut self) {
        while self.pos < self.src.len() {
            let c = self.peek(0);
            let start = self.pos;
            match c {
                b'\n' => {
                    self.newline = true;
                    self.pos += 1;
                }
                b' ' | b'\t' | b'\r' | 0x0b | 0x0c => self.pos += 1,
                b'\\' if self.peek(1) == b'\n' => self.pos += 2,
                b'\\' if self.peek(1) == b'\r' && self.peek(2) == b'\n' => self.pos += 3,
                b'/' if self.peek(1) == b'/' => {
                    while self.pos < self.src.len() && self.peek(0) != b'\n' {
                        self.pos += 1;
                    }
                    let body = self
                        .slice(start + 2, self.pos)
                        .trim_end_matches('\r')
                        .to_owned();
                    self.push(TokenKind::Comment(body), start);
                }
                b'/' if self.peek(1) == b'*' => self.block_comment(start),
                b'L' if self.peek(1) == b'\'' => {
                    self.pos += 1;
                    self.char_lit(start, true);
                }
                b'L' if self.peek(1) == b'"' => {
                    self.pos += 1;
                    self.string_lit(start, true);
                }
                b'\'' => self.char_lit(start, false),
                b'"' => self.string_lit(start, false),
                b'0'..=b'9' => self.number(start),
                b'.' if self.peek(1).is_ascii_digit() => self.number(start),
                c if c == b'_' || c.is_ascii_alphabetic() => self.ident(start),
                c if c >= 0x80 => {
                    let ch = self.text[start..].chars().next().unwrap_or('?');
                    self.pos += ch.len_utf8();
                    self.push(
                        TokenKind::Error(LexError::new(
                            format!("unexpected character `{ch}`"),
                            "IDL names and keywords are ASCII; remove the character or put it in a comment or string",
                        )),
                        start,
                    );
                }
                _ => self.punct(start),
            }
        }
        let end = self.src.len();
        self.pos = end;
        self.push(TokenKind::Eof, end);
    }

    fn slice(&self, a: usize, b: usize) -> &str {
        self.text.get(a..b).unwrap_or("")
    }

    fn block_comment(&mut self, start: usize) {
        self.pos += 2;
        let mut closed = false;
        let mut had_newline = false;
        while self.pos < self.src.len() {
            if self.peek(0) == b'*' && self.peek(1) == b'/' {
                self.pos += 2;
                closed = true;
                break;
            }
            if self.peek(0) == b'\n' {
                had_newline = true;
            }
            self.pos += 1;
        }
        if closed {
            let body = self.slice(start + 2, self.pos - 2).to_owned();
            self.push(TokenKind::Comment(body), start);
            if had_newline {
                self.newline = true;
            }
        } else {
            let end = self.pos;
            self.pos = (start + 2).min(end);
            self.push(
                TokenKind::Error(LexError::new(
                    "unterminated block comment",
                    "close the comment with `*/`",
                )),
                start,
            );
            self.pos = end;
        }
    }

    fn ident(&mut self, start: usize) {
        while self.peek(0) == b'_' || self.peek(0).is_ascii_alphanumeric() {
            self.pos += 1;
        }
        let raw = self.slice(start, self.pos);
        let (name, escaped) = match raw.strip_prefix('_') {
            Some(rest) if !rest.is_empty() => (rest.to_owned(), true),
            _ => (raw.to_owned(), false),
        };
        self.push(TokenKind::Ident { name, escaped }, start);
    }

    fn number(&mut self, start: usize) {
        let c0 = self.peek(0);
        if c0 == b'0' && matches!(self.peek(1), b'x' | b'X') {
            self.pos += 2;
            let digits_start = self.pos;
            while self.peek(0).is_ascii_hexdigit() {
                self.pos += 1;
            }
            let digits = self.slice(digits_start, self.pos).to_owned();
            let value = u64::from_str_radix(&digits, 16);
            return self.finish_int(start, value.ok(), digits.is_empty());
        }
        while self.peek(0).is_ascii_digit() {
            self.pos += 1;
        }
        let mut is_float = false;
        if self.peek(0) == b'.' && self.peek(1) != b'.' {
            is_float = true;
            self.pos += 1;
            while self.peek(0).is_ascii_digit() {
                self.pos += 1;
            }
        }
        if matches!(self.peek(0), b'e' | b'E')
            && (self.peek(1).is_ascii_digit()
                || (matches!(self.peek(1), b'+' | b'-') && self.peek(2).is_ascii_digit()))
        {
            is_float = true;
            self.pos += 2;
            while self.peek(0).is_ascii_digit() {
                self.pos += 1;
            }
        }
        let text = self.slice(start, self.pos).to_owned();
        if matches!(self.peek(0), b'd' | b'D') && !is_ident_char(self.peek(1)) {
            self.pos += 1;
            return self.push(TokenKind::Fixed(text), start);
        }
        if is_float {
            if is_ident_char(self.peek(0)) {
                return self.bad_suffix(start);
            }
            return self.push(TokenKind::Float(text), start);
        }
        let value = if text.len() > 1 && text.starts_with('0') {
            if text.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
                u64::from_str_radix(&text[1..], 8).ok()
            } else {
                self.push(
                    TokenKind::Error(LexError::new(
                        format!("`{text}` is not a valid octal literal"),
                        "a leading `0` makes an octal number (digits 0-7); remove it for a decimal number",
                    )),
                    start,
                );
                return;
            }
        } else {
            text.parse::<u64>().ok()
        };
        self.finish_int(start, value, false)
    }

    fn finish_int(&mut self, start: usize, value: Option<u64>, empty: bool) {
        if is_ident_char(self.peek(0)) {
            return self.bad_suffix(start);
        }
        let kind = match value {
            _ if empty => TokenKind::Error(LexError::new(
                "hexadecimal literal has no digits",
                "write hexadecimal digits after `0x`, e.g. `0x1F`",
            )),
            Some(v) => TokenKind::Int(v),
            None => TokenKind::Error(LexError::new(
                "integer literal does not fit in 64 bits",
                "IDL integers go up to 18446744073709551615 (`unsigned long long`)",
            )),
        };
        self.push(kind, start);
    }

    fn bad_suffix(&mut self, start: usize) {
        while is_ident_char(self.peek(0)) {
            self.pos += 1;
        }
        let text = self.slice(start, self.pos).to_owned();
        self.push(
            TokenKind::Error(LexError::new(
                format!("invalid suffix in numeric literal `{text}`"),
                "IDL numbers take no suffix except `d`/`D` for fixed-point; put a space between a number and a name",
            )),
            start,
        );
    }

    /// Reads one possibly escaped character of a char or string literal.
    fn escaped_char(&mut self) -> Result<char, LexError> {
        let c = self.peek(0);
        if c != b'\\' {
            let ch = self.text[self.pos..].chars().next().unwrap_or('\0');
            self.pos += ch.len_utf8().max(1);
            return Ok(ch);
        }
        self.pos += 1;
        let e = self.peek(0);
        self.pos += 1;
        Ok(match e {
            b'n' => '\n',
            b't' => '\t',
            b'v' => '\u{b}',
            b'b' => '\u{8}',
            b'r' => '\r',
            b'f' => '\u{c}',
            b'a' => '\u{7}',
            b'\\' => '\\',
            b'?' => '?',
            b'\'' => '\'',
            b'"' => '"',
            b'0'..=b'7' => {
                let mut v = u32::from(e - b'0');
                for _ in 0..2 {
                    if (b'0'..=b'7').contains(&self.peek(0)) {
                        v = v * 8 + u32::from(self.peek(0) - b'0');
                        self.pos += 1;
                    }
                }
                char::from_u32(v).unwrap_or('\0')
            }
            b'x' | b'u' => {
                let max = if e == b'x' { 2 } else { 4 };
                let mut v = 0u32;
                let mut n = 0;
                while n < max && self.peek(0).is_ascii_hexdigit() {
                    v = v * 16 + char::from(self.peek(0)).to_digit(16).unwrap_or(0);
                    self.pos += 1;
                    n += 1;
                }
                if n == 0 {
                    return Err(LexError::new(
                        format!("`\\{}` escape without hex digits", char::from(e)),
                        "write hexadecimal digits after the escape, e.g. `\\x41`",
                    ));
                }
                char::from_u32(v).ok_or_else(|| {
                    LexError::new(
                        format!("`{v:#x}` is not a character"),
                        "use a Unicode scalar value (not a surrogate, at most 0x10FFFF)",
                    )
                })?
            }
            0 => {
                return Err(LexError::new(
                    "unterminated escape",
                    "finish the escape and close the literal",
                ));
            }
            other => {
                self.pos = self.pos - 1 + utf8_len(other);
                return Err(LexError::new(
                    "unknown escape sequence",
                    "IDL escapes are \\n \\t \\v \\b \\r \\f \\a \\\\ \\? \\' \\\" and octal, \\x, \\u; write `\\\\` for a backslash",
                ));
            }
        })
    }

    fn char_lit(&mut self, start: usize, wide: bool) {
        self.pos += 1;
        let mut chars = Vec::new();
        let mut error = None;
        loop {
            match self.peek(0) {
                b'\'' => {
                    self.pos += 1;
                    break;
                }
                _ if self.pos >= self.src.len() || self.peek(0) == b'\n' => {
                    error = Some(LexError::new(
                        "unterminated character literal",
                        "close the literal with `'` on the same line",
                    ));
                    break;
                }
                _ => match self.escaped_char() {
                    Ok(c) => chars.push(c),
                    Err(e) => error = error.or(Some(e)),
                },
            }
        }
        let kind = match (error, chars.as_slice()) {
            (Some(e), _) => TokenKind::Error(e),
            (None, [c]) => TokenKind::Char { value: *c, wide },
            (None, []) => TokenKind::Error(LexError::new(
                "empty character literal",
                "write one character between the quotes, e.g. `'a'`",
            )),
            (None, _) => TokenKind::Error(LexError::new(
                "character literal holds more than one character",
                "use a string literal `\"...\"` for several characters",
            )),
        };
        self.push(kind, start);
    }

    fn string_lit(&mut self, start: usize, wide: bool) {
        self.pos += 1;
        let mut value = String::new();
        let mut error = None;
        loop {
            match self.peek(0) {
                b'"' => {
                    self.pos += 1;
                    break;
                }
                _ if self.pos >= self.src.len() || self.peek(0) == b'\n' => {
                    error = Some(LexError::new(
                        "unterminated string literal",
                        "close the string with `\"` on the same line; adjacent literals `\"a\" \"b\"` are joined",
                    ));
                    break;
                }
                _ => match self.escaped_char() {
                    Ok(c) => value.push(c),
                    Err(e) => error = error.or(Some(e)),
                },
            }
        }
        let kind = match error {
            Some(e) => TokenKind::Error(e),
            None => TokenKind::Str { value, wide },
        };
        self.push(kind, start);
    }

    fn punct(&mut self, start: usize) {
        use Punct::*;
        let (p, len) = match (self.peek(0), self.peek(1)) {
            (b':', b':') => (ColonColon, 2),
            (b'<', b'<') => (Shl, 2),
            (b'>', b'>') => (Shr, 2),
            (b'<', b'=') => (Le, 2),
            (b'>', b'=') => (Ge, 2),
            (b'=', b'=') => (EqEq, 2),
            (b'!', b'=') => (Ne, 2),
            (b'&', b'&') => (AmpAmp, 2),
            (b'|', b'|') => (PipePipe, 2),
            (b';', _) => (Semi, 1),
            (b'{', _) => (LBrace, 1),
            (b'}', _) => (RBrace, 1),
            (b'(', _) => (LParen, 1),
            (b')', _) => (RParen, 1),
            (b'[', _) => (LBracket, 1),
            (b']', _) => (RBracket, 1),
            (b'<', _) => (Lt, 1),
            (b'>', _) => (Gt, 1),
            (b',', _) => (Comma, 1),
            (b':', _) => (Colon, 1),
            (b'=', _) => (Eq, 1),
            (b'+', _) => (Plus, 1),
            (b'-', _) => (Minus, 1),
            (b'*', _) => (Star, 1),
            (b'/', _) => (Slash, 1),
            (b'%', _) => (Percent, 1),
            (b'~', _) => (Tilde, 1),
            (b'!', _) => (Bang, 1),
            (b'&', _) => (Amp, 1),
            (b'|', _) => (Pipe, 1),
            (b'^', _) => (Caret, 1),
            (b'@', _) => (At, 1),
            (b'#', _) => (Hash, 1),
            (b'.', _) => (Dot, 1),
            (b'?', _) => (Question, 1),
            (other, _) => {
                self.pos += 1;
                let msg = format!(
                    "unexpected character `{}`",
                    char::from(other).escape_default()
                );
                return self.push(
                    TokenKind::Error(LexError::new(
                        msg,
                        "remove the character or put it in a comment or string",
                    )),
                    start,
                );
            }
        };
        self.pos += len;
        self.push(TokenKind::Punct(p), start);
    }
}

fn is_ident_char(c: u8) -> bool {
    c == b'_' || c.is_ascii_alphanumeric()
}

fn utf8_len(first: u8) -> usize {
    match first {
        0xf0..=0xff => 4,
        0xe0..=0xef => 3,
        0xc0..=0xdf => 2,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<TokenKind> {
        lex(FileId(0), text)
            .into_iter()
            .map(|t| t.kind)
            .filter(|k| !matches!(k, TokenKind::Comment(_)))
            .collect()
    }

    fn ident(name: &str, escaped: bool) -> TokenKind {
        TokenKind::Ident {
            name: name.into(),
            escaped,
        }
    }

    #[test]
    fn numbers() {
        assert_eq!(
            kinds("10 010 0x1F 1.5 1e3 .5 1.5d 0"),
            vec![
                TokenKind::Int(10),
                TokenKind::Int(8),
                TokenKind::Int(31),
                TokenKind::Float("1.5".into()),
                TokenKind::Float("1e3".into()),
                TokenKind::Float(".5".into()),
                TokenKind::Fixed("1.5".into()),
                TokenKind::Int(0),
                TokenKind::Eof
            ]
        );
        assert!(matches!(
            kinds("99999999999999999999")[0],
            TokenKind::Error(_)
        ));
        assert!(matches!(kinds("08")[0], TokenKind::Error(_)));
        assert!(matches!(kinds("1UL")[0], TokenKind::Error(_)));
    }

    #[test]
    fn idents_and_punct() {
        assert_eq!(
            kinds("_struct a::b >> << @key"),
            vec![
                ident("struct", true),
                ident("a", false),
                TokenKind::Punct(Punct::ColonColon),
                ident("b", false),
                TokenKind::Punct(Punct::Shr),
                TokenKind::Punct(Punct::Shl),
                TokenKind::Punct(Punct::At),
                ident("key", false),
                TokenKind::Eof
            ]
        );
    }

    #[test]
    fn chars_and_strings() {
        assert_eq!(
            kinds(r#"'a' L'b' '\n' '\x41' "hi\t" L"w""#),
            vec![
                TokenKind::Char {
                    value: 'a',
                    wide: false
                },
                TokenKind::Char {
                    value: 'b',
                    wide: true
                },
                TokenKind::Char {
                    value: '\n',
                    wide: false
                },
                TokenKind::Char {
                    value: 'A',
                    wide: false
                },
                TokenKind::Str {
                    value: "hi\t".into(),
                    wide: false
                },
                TokenKind::Str {
                    value: "w".into(),
                    wide: true
                },
                TokenKind::Eof
            ]
        );
        assert!(matches!(kinds("\"abc\nx")[0], TokenKind::Error(_)));
        assert!(matches!(kinds("'ab'")[0], TokenKind::Error(_)));
    }

    #[test]
    fn comments_and_newlines() {
        let toks = lex(FileId(0), "a // c1\n/* c2\n */ b c");
        assert_eq!(toks[1].kind, TokenKind::Comment(" c1".into()));
        assert_eq!(toks[2].kind, TokenKind::Comment(" c2\n ".into()));
        assert!(toks[3].newline_before);
        assert!(!toks[4].newline_before);
        assert!(matches!(kinds("/* open")[0], TokenKind::Error(_)));
    }

    #[test]
    fn never_panics_on_odd_bytes() {
        for text in [
            "\\", "'", "\"", "L", "'\\", "'\\x", "0x", "é", "'\\é'", "1e", "1.", "\u{0}",
        ] {
            let toks = lex(FileId(0), text);
            assert_eq!(toks.last().map(|t| &t.kind), Some(&TokenKind::Eof));
        }
    }
}
