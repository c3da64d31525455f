//! The committed C header carries the version of Cargo.toml and the ABI version of src/ffi.
//! (That it is the freshly generated header at all is checked by `make check-header`.)

fn macro_value(header: &str, name: &str) -> String {
    let prefix = format!("#define {name} ");
    header
        .lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("include/wsconnector.h has no {name}"))
        .trim()
        .to_owned()
}

#[test]
fn header_version_macros_match_cargo_toml() {
    let header = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/include/wsconnector.h"
    ))
    .expect("include/wsconnector.h is committed");
    assert_eq!(
        macro_value(&header, "WSC_VERSION_MAJOR"),
        env!("CARGO_PKG_VERSION_MAJOR")
    );
    assert_eq!(
        macro_value(&header, "WSC_VERSION_MINOR"),
        env!("CARGO_PKG_VERSION_MINOR")
    );
    assert_eq!(
        macro_value(&header, "WSC_VERSION_PATCH"),
        env!("CARGO_PKG_VERSION_PATCH")
    );
    assert_eq!(
        macro_value(&header, "WSC_VERSION"),
        format!("\"{}\"", env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(
        macro_value(&header, "WSC_ABI_VERSION"),
        wsconnector::ffi::WSC_ABI_VERSION.to_string()
    );
}
