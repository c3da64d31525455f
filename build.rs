//! With the `capi` feature (the C build): generates the C header from src/ffi into OUT_DIR;
//! `make header` copies it to include/. Without it (Rust users, the Python extension) there is
//! nothing to do. (The shared library's soname, which carries the ABI major version, is given by
//! the C build's command in mk/c.mk: the package's own crate type is only the rlib.)

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    #[cfg(feature = "capi")]
    capi::generate();
}

#[cfg(feature = "capi")]
mod capi {
    use std::env;
    use std::path::PathBuf;

    pub fn generate() {
        println!("cargo:rerun-if-changed=src/ffi");
        println!("cargo:rerun-if-changed=cbindgen.toml");

        let crate_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
        let out_dir = PathBuf::from(env::var("OUT_DIR").expect("set by cargo"));
        let mut config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml"))
            .expect("cbindgen.toml is valid");
        let version =
            |part: &str| env::var(format!("CARGO_PKG_VERSION_{part}")).expect("set by cargo");
        config.after_includes = Some(format!(
            "\n#define WSC_VERSION \"{}\"\n#define WSC_VERSION_MAJOR {}\n#define WSC_VERSION_MINOR {}\n#define WSC_VERSION_PATCH {}",
            env::var("CARGO_PKG_VERSION").expect("set by cargo"),
            version("MAJOR"),
            version("MINOR"),
            version("PATCH"),
        ));
        cbindgen::Builder::new()
            .with_config(config)
            .with_src(crate_dir.join("src/ffi/mod.rs"))
            .generate()
            .expect("the C header generates from src/ffi")
            .write_to_file(out_dir.join("wsconnector.h"));
    }
}
