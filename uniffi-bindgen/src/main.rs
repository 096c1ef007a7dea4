//! The uniffi-bindgen command line, at the workspace's uniffi version.

fn main() {
    uniffi::uniffi_bindgen_main()
}
