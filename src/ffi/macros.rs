//! The panic boundary and the argument checks that every exported function goes through.
//!
//! Each export is `ffi! { ... }` (or `ffi_value!`): the body runs under `catch_unwind`, returns
//! `FfiResult`, and its error becomes the calling thread's last error and the returned code.
//! Arguments come in through `arg_*!` macros, which name the parameter in the error message.

use super::error::{FfiError, FfiResult};
use std::ffi::{c_char, CStr};
use std::ptr::NonNull;

/// An opaque C handle: the zero-sized type the header names, and the Rust value behind it.
pub(crate) trait Opaque {
    /// The Rust value a pointer to this handle points at.
    type Rust;
}

/// Turns a Rust value into a handle the caller owns (and frees with the handle's free function).
pub(crate) fn into_handle<T: Opaque>(value: T::Rust) -> *mut T {
    Box::into_raw(Box::new(value)).cast()
}

/// A borrowed handle to a Rust value, valid while the value lives.
pub(crate) fn as_handle<T: Opaque>(value: &T::Rust) -> *const T {
    (value as *const T::Rust).cast()
}

/// A handle passed in by the caller, borrowed for the call.
///
/// # Safety
/// `ptr` must be NULL or come from this library as a `T` and not be freed yet (the header's
/// contract for every handle argument).
pub(crate) unsafe fn handle_ref<'a, T: Opaque>(
    ptr: *const T,
    name: &str,
) -> FfiResult<&'a T::Rust> {
    // SAFETY: non-NULL pointers of type T are `T::Rust` values made by `into_handle` or
    // `as_handle` and still alive, per the caller's contract.
    unsafe { ptr.cast::<T::Rust>().as_ref() }.ok_or_else(|| FfiError::null(name))
}

/// An optional handle passed in by the caller, borrowed for the call; `None` for NULL.
///
/// # Safety
/// As [`handle_ref`].
pub(crate) unsafe fn opt_handle_ref<'a, T: Opaque>(ptr: *const T) -> Option<&'a T::Rust> {
    // SAFETY: as in `handle_ref`.
    unsafe { ptr.cast::<T::Rust>().as_ref() }
}

/// A handle passed in by the caller for changing, borrowed for the call.
///
/// # Safety
/// As [`handle_ref`], and no other reference to the value is in use during the call.
pub(crate) unsafe fn handle_mut<'a, T: Opaque>(
    ptr: *mut T,
    name: &str,
) -> FfiResult<&'a mut T::Rust> {
    // SAFETY: as in `handle_ref`; the caller does not use the handle elsewhere meanwhile.
    unsafe { ptr.cast::<T::Rust>().as_mut() }.ok_or_else(|| FfiError::null(name))
}

/// Takes back ownership of a handle the caller owned; `None` for NULL.
///
/// # Safety
/// `ptr` must be NULL or come from `into_handle::<T>` and not be freed yet.
pub(crate) unsafe fn take_handle<T: Opaque>(ptr: *mut T) -> Option<Box<T::Rust>> {
    // SAFETY: made by `Box::into_raw` in `into_handle`, ownership returns exactly once.
    NonNull::new(ptr.cast::<T::Rust>()).map(|p| unsafe { Box::from_raw(p.as_ptr()) })
}

/// A NUL-terminated UTF-8 string argument; `None` for NULL.
///
/// # Safety
/// `ptr` must be NULL or point at a NUL-terminated string that lives for the call.
pub(crate) unsafe fn opt_str<'a>(ptr: *const c_char, name: &str) -> FfiResult<Option<&'a str>> {
    if ptr.is_null() {
        return Ok(None);
    }
    // SAFETY: non-NULL and NUL-terminated per the caller's contract.
    let bytes = unsafe { CStr::from_ptr(ptr) };
    bytes.to_str().map(Some).map_err(|_| FfiError::utf8(name))
}

/// A byte buffer argument: `len` bytes at `ptr`, which may be NULL only when `len` is 0.
///
/// # Safety
/// A non-NULL `ptr` must point at `len` readable bytes that live for the call.
pub(crate) unsafe fn bytes<'a>(ptr: *const u8, len: usize, name: &str) -> FfiResult<&'a [u8]> {
    if len == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return Err(FfiError::null(name));
    }
    if len > isize::MAX as usize {
        return Err(FfiError::invalid(format!(
            "{name}: a length of {len} bytes is larger than any buffer can be"
        )));
    }
    // SAFETY: `len` readable bytes at a non-NULL `ptr`, per the caller's contract.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// An array of `count` NUL-terminated UTF-8 strings; NULL only when `count` is 0.
///
/// # Safety
/// A non-NULL `ptr` must point at `count` string pointers, each valid as for [`opt_str`].
pub(crate) unsafe fn strs<'a>(
    ptr: *const *const c_char,
    count: usize,
    name: &str,
) -> FfiResult<Vec<&'a str>> {
    if count == 0 {
        return Ok(Vec::new());
    }
    if ptr.is_null() {
        return Err(FfiError::null(name));
    }
    // SAFETY: `count` readable pointers at a non-NULL `ptr`, per the caller's contract.
    let items = unsafe { std::slice::from_raw_parts(ptr, count) };
    items
        .iter()
        .map(|&item| {
            // SAFETY: each element is a string pointer, per the caller's contract.
            unsafe { opt_str(item, name) }?.ok_or_else(|| FfiError::null(name))
        })
        .collect()
}

/// An out pointer, checked for NULL before any work is done and written only on success.
pub(crate) struct Out<T>(NonNull<T>);

impl<T> Out<T> {
    /// A required out pointer.
    pub(crate) fn new(ptr: *mut T, name: &str) -> FfiResult<Self> {
        NonNull::new(ptr)
            .map(Out)
            .ok_or_else(|| FfiError::null(name))
    }

    /// An optional out pointer: NULL means the caller does not want the value.
    pub(crate) fn optional(ptr: *mut T) -> Option<Self> {
        NonNull::new(ptr).map(Out)
    }

    /// The pointer, for a caller that reads it first (a sized struct's `struct_size`).
    pub(crate) fn as_ptr(&self) -> *mut T {
        self.0.as_ptr()
    }

    /// Writes the value (without reading or dropping what was there).
    pub(crate) fn set(self, value: T) {
        // SAFETY: non-NULL and writable for a `T`, per the header's contract for out pointers.
        unsafe { self.0.as_ptr().write(value) }
    }
}

/// Writes `value`, a `#[repr(C)]` struct whose first field is its size (`struct_size`), into
/// the caller's `*out` as far as the size the caller set there goes, and writes back the size
/// written: a caller built against an older, shorter struct gets the fields it knows. A size
/// smaller than the size field itself is `WSC_INVALID_ARGUMENT`.
pub(crate) fn write_sized<T: Copy>(value: &T, out: *mut T, name: &str) -> FfiResult {
    let out = Out::new(out, name)?;
    let ptr = out.as_ptr().cast::<u8>();
    // SAFETY: non-NULL, and the caller set the struct's first field (its size) before the call.
    let wanted = unsafe { ptr.cast::<usize>().read_unaligned() };
    if wanted < std::mem::size_of::<usize>() {
        return Err(FfiError::invalid(format!(
            "{name}->struct_size is {wanted}: set it to the struct's sizeof"
        )));
    }
    let size = wanted.min(std::mem::size_of::<T>());
    // SAFETY: the caller's struct has `wanted` >= `size` writable bytes (its own size), and
    // `value` is ours, so they cannot overlap; the size goes into the first field.
    unsafe {
        std::ptr::copy_nonoverlapping((value as *const T).cast::<u8>(), ptr, size);
        ptr.cast::<usize>().write_unaligned(size);
    }
    Ok(())
}

/// The panic boundary of a function that returns a `wsc_result`: runs the body, which returns
/// `FfiResult<()>`, records a failure as the thread's last error (unless `keep_last_error;`
/// leads the body), and returns its code.
macro_rules! ffi {
    (keep_last_error; $($body:tt)*) => {
        $crate::ffi::error::boundary(false, || -> $crate::ffi::error::FfiResult { $($body)* })
    };
    ($($body:tt)*) => {
        $crate::ffi::error::boundary(true, || -> $crate::ffi::error::FfiResult { $($body)* })
    };
}

/// The panic boundary of a function that cannot fail: returns the body's value, or `$fallback`
/// if it panicked.
macro_rules! ffi_value {
    ($fallback:expr, $($body:tt)*) => {
        $crate::ffi::error::boundary_value($fallback, || { $($body)* })
    };
}

/// A required handle argument, borrowed: `&Rust` or a `WSC_NULL_POINTER` error naming it.
macro_rules! arg_ref {
    ($ptr:ident) => {
        // SAFETY: the header requires every handle argument to be NULL or live.
        unsafe { $crate::ffi::macros::handle_ref($ptr, stringify!($ptr)) }?
    };
}

/// An optional handle argument, borrowed: `Some(&Rust)`, or `None` for NULL.
macro_rules! arg_opt_ref {
    ($ptr:ident) => {
        // SAFETY: the header requires every handle argument to be NULL or live.
        unsafe { $crate::ffi::macros::opt_handle_ref($ptr) }
    };
}

/// A required handle argument, borrowed for changing.
macro_rules! arg_mut {
    ($ptr:ident) => {
        // SAFETY: the header requires every handle argument to be NULL or live, and builders
        // not to be used from two threads at once.
        unsafe { $crate::ffi::macros::handle_mut($ptr, stringify!($ptr)) }?
    };
}

/// A required NUL-terminated UTF-8 string argument.
macro_rules! arg_str {
    ($ptr:ident) => {
        // SAFETY: the header requires string arguments to be NULL or NUL-terminated.
        unsafe { $crate::ffi::macros::opt_str($ptr, stringify!($ptr)) }?
            .ok_or_else(|| $crate::ffi::error::FfiError::null(stringify!($ptr)))?
    };
}

/// An optional NUL-terminated UTF-8 string argument (NULL gives `None`).
macro_rules! arg_opt_str {
    ($ptr:ident) => {
        // SAFETY: the header requires string arguments to be NULL or NUL-terminated.
        unsafe { $crate::ffi::macros::opt_str($ptr, stringify!($ptr)) }?
    };
}

/// A `(const char *const *, count)` array of strings argument.
macro_rules! arg_strs {
    ($ptr:ident, $count:ident) => {
        // SAFETY: the header requires `count` string pointers at `ptr`.
        unsafe { $crate::ffi::macros::strs($ptr, $count, stringify!($ptr)) }?
    };
}

/// A required out pointer.
macro_rules! arg_out {
    ($ptr:ident) => {
        $crate::ffi::macros::Out::new($ptr, stringify!($ptr))?
    };
}

/// The shape of every accessor: borrows a handle, computes a value from it, writes the value
/// to an out pointer. Used through `accessor!`, which names both pointers for the errors.
pub(crate) fn read_into<T: Opaque, V>(
    handle: *const T,
    handle_name: &str,
    out: *mut V,
    out_name: &str,
    get: impl FnOnce(&T::Rust) -> FfiResult<V>,
) -> super::wsc_result {
    ffi! {
        // SAFETY: the header requires every handle argument to be NULL or live.
        let value = unsafe { handle_ref(handle, handle_name) }?;
        let out = Out::new(out, out_name)?;
        out.set(get(value)?);
        Ok(())
    }
}

/// An accessor's whole body: `accessor!(handle, out, |value| Ok(...))`.
macro_rules! accessor {
    ($handle:ident, $out:ident, $get:expr) => {
        $crate::ffi::macros::read_into($handle, stringify!($handle), $out, stringify!($out), $get)
    };
}

pub(crate) use {
    accessor, arg_mut, arg_opt_ref, arg_opt_str, arg_out, arg_ref, arg_str, arg_strs, ffi,
    ffi_value,
};
