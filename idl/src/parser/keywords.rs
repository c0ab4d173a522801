//! Which words are reserved. Only the keywords of constructs we accept are reserved in
//! strict mode, so real files that use `port`, `map` or `interface`-family words as names
//! keep working; the parser recognises the other IDL keywords by context.

/// Keywords of the accepted data-type subset.
const RESERVED: &[&str] = &[
    "module", "struct", "union", "switch", "case", "default", "enum", "bitmask", "bitset",
    "bitfield", "typedef", "const", "sequence", "string", "wstring", "boolean", "char", "wchar",
    "octet", "short", "long", "unsigned", "float", "double", "int8", "int16", "int32", "int64",
    "uint8", "uint16", "uint32", "uint64", "TRUE", "FALSE",
];

/// Keywords that introduce constructs outside the data-type subset.
pub(crate) const UNSUPPORTED_DEFINITIONS: &[&str] = &[
    "interface",
    "abstract",
    "local",
    "custom",
    "valuetype",
    "eventtype",
    "exception",
    "native",
    "component",
    "home",
    "porttype",
    "connector",
    "typeid",
    "typeprefix",
    "import",
];

/// Whether `name` is reserved in strict mode.
pub(crate) fn is_reserved(name: &str) -> bool {
    RESERVED.contains(&name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_and_map_are_names() {
        assert!(!is_reserved("port"));
        assert!(!is_reserved("map"));
        assert!(is_reserved("struct"));
    }
}
