//! Whole WAL frames in one write: a VFS over SQLite's default (`unix`) one.
//!
//! SQLite writes each WAL frame with two calls, its 24-byte header and then its
//! page, so a send's commit (about six frames) cost about thirteen `pwrite`s,
//! and on these VMs a system call costs a microsecond or two. Files opened
//! through this VFS as a WAL hold a frame header back until the next call:
//! when that call writes the frame's page right after it, header and page go
//! to the kernel in one write; any other call first writes the header alone.
//!
//! The header is held only between two adjacent calls of SQLite's
//! `walWriteOneFrame`, which writes the header and at once the page: nothing
//! can read, lock, sync or publish in between, and the frame is in the file
//! before the page's `xWrite` returns, as without this layer. A header is held
//! only when it continues the file right after a page this handle wrote, which
//! is how SQLite appends frames; the headers it rewrites in place when a
//! transaction wrote one page twice (`walRewriteChecksums`) never are, so the
//! last of them is not left waiting while the WAL index is published. Every
//! other file (the database itself, temporary files) keeps the `unix` methods.

use std::ffi::{c_int, c_void};
use std::ptr;
use std::sync::OnceLock;

use rusqlite::ffi;

use crate::store::StoreError;

/// The name connections open with (`Connection::open_with_flags_and_vfs`).
pub const NAME: &std::ffi::CStr = c"mcp-bridge-frames";

const FRAME_HEADER: usize = 24;

/// Registers the VFS once per process; every later call returns its name.
pub fn vfs() -> Result<&'static std::ffi::CStr, StoreError> {
    static REGISTERED: OnceLock<Result<(), String>> = OnceLock::new();
    match REGISTERED.get_or_init(register) {
        Ok(()) => Ok(NAME),
        Err(e) => Err(StoreError::Backend(e.clone().into())),
    }
}

/// The `unix` VFS this one forwards to, set once by `register`.
static INNER: OnceLock<Vfs> = OnceLock::new();

/// A pointer SQLite owns for the life of the process.
struct Vfs(*mut ffi::sqlite3_vfs);
// SAFETY: SQLite's VFS objects are immutable once registered and are meant to
// be used from every thread.
unsafe impl Send for Vfs {}
unsafe impl Sync for Vfs {}

fn register() -> Result<(), String> {
    // SAFETY: `sqlite3_vfs_find` initialises SQLite and returns the default VFS
    // (or null); the struct it points to lives for the process.
    let inner = unsafe { ffi::sqlite3_vfs_find(ptr::null()) };
    if inner.is_null() {
        return Err("SQLite has no default VFS".into());
    }
    // SAFETY: `inner` is a valid registered VFS (checked non-null above).
    let mut ours: ffi::sqlite3_vfs = unsafe { ptr::read(inner) };
    let inner_size = usize::try_from(ours.szOsFile).map_err(|e| e.to_string())?;
    let size = extra_offset(inner_size) + std::mem::size_of::<Held>();
    ours.szOsFile = c_int::try_from(size).map_err(|e| e.to_string())?;
    ours.pNext = ptr::null_mut();
    ours.zName = NAME.as_ptr();
    ours.xOpen = Some(open);
    let _ = INNER.set(Vfs(inner));
    // Leaked on purpose: SQLite keeps the pointer for the rest of the process.
    let ours = Box::into_raw(Box::new(ours));
    // SAFETY: `ours` is a complete VFS whose methods are `unix`'s but `xOpen`.
    let rc = unsafe { ffi::sqlite3_vfs_register(ours, 0) };
    if rc == ffi::SQLITE_OK {
        Ok(())
    } else {
        Err(format!("SQLite refused to register a VFS (code {rc})"))
    }
}

/// Where this layer's state starts in a file object: after the `unix` file,
/// aligned for `Held`.
fn extra_offset(inner_size: usize) -> usize {
    inner_size.next_multiple_of(std::mem::align_of::<Held>())
}

/// What a WAL file of this VFS keeps beside the `unix` file it wraps.
struct Held {
    methods: *const ffi::sqlite3_io_methods,
    /// A frame header written but not yet given to the kernel, and its offset.
    header: Option<([u8; FRAME_HEADER], i64)>,
    /// Where the last write of a page by this handle ended: a header written
    /// exactly there is SQLite appending a frame.
    after_page: i64,
    /// Header and page side by side for their one write (kept between frames).
    joined: Vec<u8>,
}

/// # Safety
/// `file` must be a WAL file opened by `open` and not yet closed.
unsafe fn held<'a>(file: *mut ffi::sqlite3_file) -> &'a mut Held {
    let inner = INNER.get().expect("registered before any open");
    // SAFETY: the caller's contract; SQLite calls a file's methods from one
    // thread at a time, so no other reference to its state exists meanwhile.
    unsafe {
        let offset = extra_offset((*inner.0).szOsFile as usize);
        &mut *file.cast::<u8>().add(offset).cast::<Held>()
    }
}

unsafe extern "C" fn open(
    _vfs: *mut ffi::sqlite3_vfs,
    name: ffi::sqlite3_filename,
    file: *mut ffi::sqlite3_file,
    flags: c_int,
    out_flags: *mut c_int,
) -> c_int {
    let inner = INNER.get().expect("registered before any open").0;
    // SAFETY: `file` has room for the `unix` file followed by `Held` (our
    // `szOsFile`); the `unix` VFS is called as SQLite itself would call it.
    unsafe {
        let rc = ((*inner).xOpen.expect("unix has xOpen"))(inner, name, file, flags, out_flags);
        if rc != ffi::SQLITE_OK || flags & ffi::SQLITE_OPEN_WAL == 0 || (*file).pMethods.is_null() {
            return rc;
        }
        let offset = extra_offset((*inner).szOsFile as usize);
        ptr::write(
            file.cast::<u8>().add(offset).cast::<Held>(),
            Held {
                methods: (*file).pMethods,
                header: None,
                after_page: -1,
                joined: Vec::new(),
            },
        );
        (*file).pMethods = &WAL_METHODS;
        rc
    }
}

/// The `unix` method `$name` of a WAL file, for forwarding.
macro_rules! inner {
    ($file:expr, $name:ident) => {
        (*held($file).methods)
            .$name
            .expect(concat!("unix files have ", stringify!($name)))
    };
}

/// Gives a held header to the kernel on its own.
///
/// # Safety
/// As `held`.
unsafe fn release(file: *mut ffi::sqlite3_file) -> c_int {
    // SAFETY: the caller's contract.
    unsafe {
        let state = held(file);
        match state.header.take() {
            None => ffi::SQLITE_OK,
            Some((bytes, offset)) => {
                state.after_page = -1;
                inner!(file, xWrite)(file, bytes.as_ptr().cast(), FRAME_HEADER as c_int, offset)
            }
        }
    }
}

/// SQLite's page sizes: the write of a frame's page.
fn is_page(size: usize) -> bool {
    size.is_power_of_two() && (512..=65536).contains(&size)
}

unsafe extern "C" fn write(
    file: *mut ffi::sqlite3_file,
    data: *const c_void,
    amount: c_int,
    offset: i64,
) -> c_int {
    // SAFETY: SQLite passes a WAL file of ours and `amount` readable bytes.
    // The `unix` methods called below touch only the `unix` part of `file`,
    // never `state`.
    unsafe {
        let state = held(file);
        let size = usize::try_from(amount).unwrap_or(0);
        if data.is_null() || size == 0 {
            let rc = release(file);
            if rc != ffi::SQLITE_OK {
                return rc;
            }
            return inner!(file, xWrite)(file, data, amount, offset);
        }
        let data = std::slice::from_raw_parts(data.cast::<u8>(), size);
        if let Some((bytes, at)) = state.header.take() {
            if offset == at + FRAME_HEADER as i64 && is_page(size) {
                state.joined.clear();
                state.joined.extend_from_slice(&bytes);
                state.joined.extend_from_slice(data);
                #[cfg(test)]
                JOINED.with(|n| n.set(n.get() + 1));
                let rc = inner!(file, xWrite)(
                    file,
                    state.joined.as_ptr().cast(),
                    (FRAME_HEADER + size) as c_int,
                    at,
                );
                state.after_page = if rc == ffi::SQLITE_OK {
                    offset + i64::from(amount)
                } else {
                    -1
                };
                return rc;
            }
            state.after_page = -1;
            let rc = inner!(file, xWrite)(file, bytes.as_ptr().cast(), FRAME_HEADER as c_int, at);
            if rc != ffi::SQLITE_OK {
                return rc;
            }
        }
        if size == FRAME_HEADER && offset == state.after_page {
            let mut bytes = [0u8; FRAME_HEADER];
            bytes.copy_from_slice(data);
            state.header = Some((bytes, offset));
            return ffi::SQLITE_OK;
        }
        let rc = inner!(file, xWrite)(file, data.as_ptr().cast(), amount, offset);
        state.after_page = if rc == ffi::SQLITE_OK && is_page(size) {
            offset + i64::from(amount)
        } else {
            -1
        };
        rc
    }
}

unsafe extern "C" fn close(file: *mut ffi::sqlite3_file) -> c_int {
    // SAFETY: SQLite closes a WAL file of ours once; its state is dropped here
    // and the `unix` file closed after it.
    unsafe {
        let released = release(file);
        let methods = held(file).methods;
        ptr::drop_in_place(held(file) as *mut Held);
        (*file).pMethods = methods;
        let closed = ((*methods).xClose.expect("unix files have xClose"))(file);
        if released != ffi::SQLITE_OK {
            released
        } else {
            closed
        }
    }
}

/// Forwards a method after giving any held header to the kernel, so SQLite
/// never reads, syncs, sizes, truncates or locks a file lacking it.
macro_rules! after_release {
    ($name:ident, $field:ident, ($($arg:ident: $ty:ty),*)) => {
        unsafe extern "C" fn $name(file: *mut ffi::sqlite3_file, $($arg: $ty),*) -> c_int {
            // SAFETY: SQLite passes a WAL file of ours and valid arguments.
            unsafe {
                let rc = release(file);
                if rc != ffi::SQLITE_OK {
                    return rc;
                }
                inner!(file, $field)(file, $($arg),*)
            }
        }
    };
}

after_release!(read, xRead, (data: *mut c_void, amount: c_int, offset: i64));
after_release!(truncate, xTruncate, (size: i64));
after_release!(sync, xSync, (flags: c_int));
after_release!(file_size, xFileSize, (size: *mut i64));
after_release!(lock, xLock, (level: c_int));
after_release!(unlock, xUnlock, (level: c_int));
after_release!(check_reserved_lock, xCheckReservedLock, (out: *mut c_int));
after_release!(file_control, xFileControl, (op: c_int, arg: *mut c_void));

unsafe extern "C" fn sector_size(file: *mut ffi::sqlite3_file) -> c_int {
    // SAFETY: SQLite passes a WAL file of ours.
    unsafe { inner!(file, xSectorSize)(file) }
}

unsafe extern "C" fn device_characteristics(file: *mut ffi::sqlite3_file) -> c_int {
    // SAFETY: SQLite passes a WAL file of ours.
    unsafe { inner!(file, xDeviceCharacteristics)(file) }
}

/// Version 1: SQLite never maps, locks or fetches a WAL file's memory (the
/// shared-memory index belongs to the database file).
static WAL_METHODS: ffi::sqlite3_io_methods = ffi::sqlite3_io_methods {
    iVersion: 1,
    xClose: Some(close),
    xRead: Some(read),
    xWrite: Some(write),
    xTruncate: Some(truncate),
    xSync: Some(sync),
    xFileSize: Some(file_size),
    xLock: Some(lock),
    xUnlock: Some(unlock),
    xCheckReservedLock: Some(check_reserved_lock),
    xFileControl: Some(file_control),
    xSectorSize: Some(sector_size),
    xDeviceCharacteristics: Some(device_characteristics),
    xShmMap: None,
    xShmLock: None,
    xShmBarrier: None,
    xShmUnmap: None,
    xFetch: None,
    xUnfetch: None,
};

#[cfg(test)]
thread_local! {
    /// Frames this thread's connections wrote whole, header and page at once.
    static JOINED: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

#[cfg(test)]
#[path = "frames_tests.rs"]
mod tests;
