//! The rule sets of the citylots bench, 5 rules per category as in event-ruler's
//! benchmark: shared by `benches/citylots.rs` and `examples/interleaved.rs`.

/// The rules of `category`, one of [`CATEGORIES`].
pub fn rules(category: &str) -> Vec<&'static str> {
    match category {
        "EXACT" => vec![
            r#"{"properties": {"MAPBLKLOT": ["1430022"]}}"#,
            r#"{"properties": {"MAPBLKLOT": ["2607117"]}}"#,
            r#"{"properties": {"BLKLOT": ["2607218"]}}"#,
            r#"{"properties": {"STREET": ["LINCOLN"]}}"#,
            r#"{"properties": {"STREET": ["WASHINGTON"], "ST_TYPE": ["ST"]}}"#,
        ],
        "PREFIX" => vec![
            r#"{"properties": {"STREET": [{"prefix": "AC"}]}}"#,
            r#"{"properties": {"STREET": [{"prefix": "BL"}]}}"#,
            r#"{"properties": {"STREET": [{"prefix": "DR"}]}}"#,
            r#"{"properties": {"STREET": [{"prefix": "FU"}]}}"#,
            r#"{"properties": {"STREET": [{"prefix": "RH"}]}}"#,
        ],
        "SUFFIX" => vec![
            r#"{"properties": {"STREET": [{"suffix": "ON"}]}}"#,
            r#"{"properties": {"STREET": [{"suffix": "KE"}]}}"#,
            r#"{"properties": {"STREET": [{"suffix": "MM"}]}}"#,
            r#"{"properties": {"STREET": [{"suffix": "ING"}]}}"#,
            r#"{"properties": {"STREET": [{"suffix": "GO"}]}}"#,
        ],
        "EQUALS_IGNORE_CASE" => vec![
            r#"{"properties": {"STREET": [{"equals-ignore-case": "jefferson"}]}}"#,
            r#"{"properties": {"STREET": [{"equals-ignore-case": "bEaCh"}]}}"#,
            r#"{"properties": {"STREET": [{"equals-ignore-case": "Lincoln"}]}}"#,
            r#"{"properties": {"STREET": [{"equals-ignore-case": "washington"}]}}"#,
            r#"{"properties": {"STREET": [{"equals-ignore-case": "CLAY"}]}}"#,
        ],
        "WILDCARD" => vec![
            r#"{"properties": {"STREET": [{"wildcard": "*N"}]}}"#,
            r#"{"properties": {"STREET": [{"wildcard": "L*N"}]}}"#,
            r#"{"properties": {"STREET": [{"wildcard": "*A*E*"}]}}"#,
            r#"{"properties": {"STREET": [{"wildcard": "STREET1*"}]}}"#,
            r#"{"properties": {"STREET": [{"wildcard": "*ING*"}]}}"#,
        ],
        "NUMERIC" => vec![
            r#"{"geometry": {"type": ["Polygon"], "firstCoordinates": {"x": [{"numeric": ["=", -122.42916360922355]}]}}}"#,
            r#"{"geometry": {"type": ["MultiPolygon"], "firstCoordinates": {"z": [{"numeric": ["=", 0]}]}}}"#,
            r#"{"geometry": {"firstCoordinates": {"x": [{"numeric": [">", -122.42, "<", -122.41]}]}}}"#,
            r#"{"geometry": {"firstCoordinates": {"x": [{"numeric": [">", -122.41]}], "y": [{"numeric": [">", 37.0]}]}}}"#,
            r#"{"geometry": {"firstCoordinates": {"x": [{"numeric": [">", -122.45, "<=", -122.44]}]}}}"#,
        ],
        "ANYTHING_BUT" => vec![
            r#"{"properties": {"STREET": [{"anything-but": ["FULTON"]}]}}"#,
            r#"{"properties": {"STREET": [{"anything-but": ["MASON"]}]}}"#,
            r#"{"properties": {"ST_TYPE": [{"anything-but": ["ST"]}]}}"#,
            r#"{"geometry": {"type": [{"anything-but": ["Polygon"]}]}}"#,
            r#"{"properties": {"FROM_ST": [{"anything-but": "441"}]}}"#,
        ],
        "ANYTHING_BUT_VARIANTS" => vec![
            r#"{"properties": {"STREET": [{"anything-but": {"prefix": "FUL"}}]}}"#,
            r#"{"properties": {"STREET": [{"anything-but": {"suffix": "ON"}}]}}"#,
            r#"{"properties": {"STREET": [{"anything-but": {"equals-ignore-case": ["mason", "Clay"]}}]}}"#,
            r#"{"properties": {"STREET": [{"anything-but": {"wildcard": "*A*"}}]}}"#,
            r#"{"properties": {"ST_TYPE": [{"anything-but": {"prefix": ["S", "A"]}}]}}"#,
        ],
        "COMPLEX_ARRAYS" => vec![
            r#"{"type": ["Feature"], "geometry": {"coordinates": {"x": [{"numeric": ["=", -122.42916360922355]}], "y": [{"numeric": ["=", 37.80629491453747]}]}}}"#,
            r#"{"type": ["Feature"], "geometry": {"coordinates": {"x": [{"numeric": [">", -122.41, "<", -122.40]}], "y": [{"numeric": [">", 37.79]}]}}}"#,
            r#"{"type": ["Feature"], "geometry": {"coordinates": {"x": [-122.38419533600236], "y": [37.77608007304251]}}}"#,
            r#"{"type": ["Feature"], "geometry": {"type": ["Polygon"], "coordinates": {"z": [{"numeric": [">", 0]}]}}}"#,
            r#"{"type": ["Feature"], "geometry": {"coordinates": {"x": [{"numeric": ["<", -122.5]}]}}}"#,
        ],
        _ => unreachable!("unknown category"),
    }
}

/// The categories, in the order the bench runs them.
pub const CATEGORIES: [&str; 9] = [
    "EXACT",
    "PREFIX",
    "SUFFIX",
    "EQUALS_IGNORE_CASE",
    "WILDCARD",
    "NUMERIC",
    "ANYTHING_BUT",
    "ANYTHING_BUT_VARIANTS",
    "COMPLEX_ARRAYS",
];
