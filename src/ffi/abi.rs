/// The ABI major version of the C API: bumped on every incompatible change to an exported
/// function or type; the soname is `libwsconnector.so.<this>` (mk/c.mk reads this line).
pub const WSC_ABI_VERSION: u32 = 1;
