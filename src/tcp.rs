//! A TCP stream whose writes never raise SIGPIPE, read and written with raw system calls.
//!
//! Writing to a connection the peer has reset raises SIGPIPE, which kills a process that has
//! not ignored it — and a C or Python host has not. Writes go through `sendto(…,
//! MSG_NOSIGNAL)`, vectored ones (ours, and rustls's) through `sendmsg(…, MSG_NOSIGNAL)`
//! rather than `writev`.
//!
//! Reads and writes are raw system calls (`syscall(2)`), not glibc's `recv`/`send`/`sendmsg`:
//! those are thread cancellation points, which in a process with more than one thread (every
//! process running a connector) switch asynchronous cancellation on and off around each call,
//! about 60 instructions a call; nothing here uses thread cancellation.

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// A connected TCP stream; see the module documentation.
pub(crate) struct Tcp(pub(crate) TcpStream);

impl Tcp {
    /// Ready when the stream may have something to read (or an error or the end to report);
    /// pending, with the task to wake registered, when it has nothing.
    pub(crate) fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.0.poll_read_ready(cx)
    }
}

impl AsyncRead for Tcp {
    /// As tokio reads (a read that does not fill the buffer shows the stream drained, so the
    /// next one waits for the reactor without asking the system), with a raw `recvfrom`; see
    /// [`poll_send`] for why the read comes before the readiness poll.
    #[cfg(target_os = "linux")]
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        use std::os::fd::AsRawFd;
        let tcp = &self.get_mut().0;
        // SAFETY: only the kernel writes there, and only the bytes it reports are marked as
        // initialized below.
        let unfilled = unsafe { buf.unfilled_mut() };
        let (into, len) = (unfilled.as_mut_ptr().cast::<u8>(), unfilled.len());
        loop {
            let mut short = None;
            let read = tcp.try_io(tokio::io::Interest::READABLE, || {
                // SAFETY: fd is an open socket owned by the TcpStream for the duration of the
                // call; `into` has room for `len` bytes (the unfilled part of `buf`).
                let got = unsafe {
                    libc::syscall(
                        libc::SYS_recvfrom,
                        tcp.as_raw_fd(),
                        into,
                        len,
                        0,
                        std::ptr::null_mut::<libc::sockaddr>(),
                        std::ptr::null_mut::<libc::socklen_t>(),
                    )
                };
                let n = count_or_error(got)?;
                if n > 0 && n < len {
                    // Drained: "would block" makes tokio clear the stream's readiness.
                    short = Some(n);
                    return Err(io::ErrorKind::WouldBlock.into());
                }
                Ok(n)
            });
            let n = match (read, short) {
                (read, Some(n)) => {
                    // tokio's own "would block" (no allocation): forgotten, not dropped (a
                    // call per message).
                    std::mem::forget(read);
                    n
                }
                (Ok(n), None) => n,
                (Err(e), None) if e.kind() == io::ErrorKind::WouldBlock => {
                    // Not readable (as far as tokio knows): wait for the reactor.
                    std::task::ready!(tcp.poll_read_ready(cx))?;
                    continue;
                }
                (Err(e), None) => return Poll::Ready(Err(e)),
            };
            // SAFETY: the kernel wrote `n` bytes (at most `len`) at the start of the unfilled
            // part.
            unsafe { buf.assume_init(n) };
            buf.advance(n);
            return Poll::Ready(Ok(()));
        }
    }

    #[cfg(not(target_os = "linux"))]
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_read(cx, buf)
    }
}

impl AsyncWrite for Tcp {
    #[cfg(target_os = "linux")]
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        poll_send(&self.get_mut().0, cx, |fd| send_nosignal(fd, buf))
    }

    #[cfg(not(target_os = "linux"))]
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().0).poll_write(cx, buf)
    }

    #[cfg(target_os = "linux")]
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        poll_send(&self.get_mut().0, cx, |fd| sendmsg_nosignal(fd, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        cfg!(target_os = "linux")
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_shutdown(cx)
    }
}

/// Makes the write `send` (given the stream's descriptor) if the stream is writable as far as
/// tokio knows, else once the reactor says it is (and again after a readiness that turned out
/// stale).
///
/// The readiness is polled (registering the task's waker) only once the attempt would block:
/// `try_io` checks the readiness itself, and a poll first costs a look-up of tokio's
/// thread-local context for its budget (a call to `__tls_get_addr` in the C library), about
/// 45 instructions, on each read and write of a busy socket. The driver bounds its own work
/// per poll (it does not lean on tokio's budget).
#[cfg(target_os = "linux")]
fn poll_send(
    tcp: &TcpStream,
    cx: &mut Context<'_>,
    send: impl Fn(std::os::fd::RawFd) -> io::Result<usize>,
) -> Poll<io::Result<usize>> {
    use std::os::fd::AsRawFd;
    loop {
        match tcp.try_io(tokio::io::Interest::WRITABLE, || send(tcp.as_raw_fd())) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                std::task::ready!(tcp.poll_write_ready(cx))?
            }
            result => return Poll::Ready(result),
        }
    }
}

/// `sendmsg` of `bufs` with MSG_NOSIGNAL.
#[cfg(target_os = "linux")]
fn sendmsg_nosignal(fd: std::os::fd::RawFd, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
    // SAFETY: an all-zero msghdr is valid (no name, no control data).
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    // IoSlice is guaranteed ABI-compatible with iovec on Unix; sendmsg only reads them.
    msg.msg_iov = bufs.as_ptr() as *mut libc::iovec;
    msg.msg_iovlen = bufs.len().min(1024) as _;
    // SAFETY: fd is an open socket owned by the TcpStream for the duration of the call, and
    // msg points at `bufs`, which outlive it.
    let sent = unsafe { libc::syscall(libc::SYS_sendmsg, fd, &msg, libc::MSG_NOSIGNAL) };
    count_or_error(sent)
}

/// `send` of `buf` with MSG_NOSIGNAL.
#[cfg(target_os = "linux")]
fn send_nosignal(fd: std::os::fd::RawFd, buf: &[u8]) -> io::Result<usize> {
    let (no_address, no_address_len) = (std::ptr::null::<libc::sockaddr>(), 0 as libc::socklen_t);
    // SAFETY: fd is an open socket owned by the TcpStream for the duration of the call, and
    // the kernel only reads `buf` (its pointer and length from one slice).
    let sent = unsafe {
        libc::syscall(
            libc::SYS_sendto,
            fd,
            buf.as_ptr(),
            buf.len(),
            libc::MSG_NOSIGNAL,
            no_address,
            no_address_len,
        )
    };
    count_or_error(sent)
}

/// A raw system call's result: the count, or the error it set.
#[cfg(target_os = "linux")]
fn count_or_error(result: libc::c_long) -> io::Result<usize> {
    if result < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(result as usize)
    }
}
