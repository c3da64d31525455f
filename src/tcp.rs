//! A TCP stream whose writes never raise SIGPIPE.
//!
//! Writing to a connection the peer has reset raises SIGPIPE, which kills a process that has
//! not ignored it — and a C or Python host has not. Plain writes already go through
//! `send(…, MSG_NOSIGNAL)`; vectored writes (ours, and rustls's) would go through `writev`,
//! so they are sent with `sendmsg(…, MSG_NOSIGNAL)` here instead.

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// A connected TCP stream; see the module documentation.
pub(crate) struct Tcp(pub(crate) TcpStream);

impl AsyncRead for Tcp {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_read(cx, buf)
    }
}

impl AsyncWrite for Tcp {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        // tokio writes with send(MSG_NOSIGNAL).
        Pin::new(&mut self.get_mut().0).poll_write(cx, buf)
    }

    #[cfg(target_os = "linux")]
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        use std::os::fd::AsRawFd;
        let tcp = &self.get_mut().0;
        loop {
            std::task::ready!(tcp.poll_write_ready(cx))?;
            match tcp.try_io(tokio::io::Interest::WRITABLE, || {
                sendmsg_nosignal(tcp.as_raw_fd(), bufs)
            }) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                result => return Poll::Ready(result),
            }
        }
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
    let sent = unsafe { libc::sendmsg(fd, &msg, libc::MSG_NOSIGNAL) };
    if sent < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(sent as usize)
    }
}
