//! [`Interest`] and [`Ready`]: which readiness a task waits for, and which
//! readiness a socket has (tokio's types of the same names).
//!
//! The bits of [`Ready`] are the low bits of a pollDesc's readiness word
//! (see `poll_desc.rs`); `Interest` is what `TcpStream::ready` and friends
//! take.

use std::fmt;
use std::ops;

/// Readiness a task can wait for: readable, writable, or both.
///
/// ```
/// use gort_net::Interest;
///
/// let both = Interest::READABLE | Interest::WRITABLE;
/// assert!(both.is_readable() && both.is_writable());
/// assert!(!Interest::READABLE.is_writable());
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Interest(u8);

impl Interest {
    /// Interest in readability (data to read, a connection to accept, EOF).
    pub const READABLE: Interest = Interest(0b01);
    /// Interest in writability (room in the send buffer, a finished connect).
    pub const WRITABLE: Interest = Interest(0b10);

    /// Whether readability is included.
    pub const fn is_readable(self) -> bool {
        self.0 & Interest::READABLE.0 != 0
    }

    /// Whether writability is included.
    pub const fn is_writable(self) -> bool {
        self.0 & Interest::WRITABLE.0 != 0
    }

    /// Both interests (tokio's `Interest::add`).
    #[must_use]
    pub const fn add(self, other: Interest) -> Interest {
        Interest(self.0 | other.0)
    }

    /// The readiness bits that satisfy this interest: readable interest is
    /// satisfied by data or by the read side closing, writable interest by
    /// room or by the write side closing.
    pub(crate) fn mask(self) -> Ready {
        let mut r = Ready::EMPTY;
        if self.is_readable() {
            r = r | Ready::READABLE | Ready::READ_CLOSED;
        }
        if self.is_writable() {
            r = r | Ready::WRITABLE | Ready::WRITE_CLOSED;
        }
        r
    }
}

impl ops::BitOr for Interest {
    type Output = Interest;
    fn bitor(self, other: Interest) -> Interest {
        self.add(other)
    }
}

impl ops::BitOrAssign for Interest {
    fn bitor_assign(&mut self, other: Interest) {
        *self = self.add(other);
    }
}

impl fmt::Debug for Interest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.is_readable(), self.is_writable()) {
            (true, true) => f.write_str("READABLE | WRITABLE"),
            (true, false) => f.write_str("READABLE"),
            (false, true) => f.write_str("WRITABLE"),
            (false, false) => f.write_str("(none)"),
        }
    }
}

/// The readiness of a socket, as last reported by the poller.
///
/// ```
/// use gort_net::Ready;
///
/// let r = Ready::READABLE | Ready::READ_CLOSED;
/// assert!(r.is_readable() && r.is_read_closed());
/// assert!(!r.is_writable());
/// assert!(Ready::EMPTY.is_empty());
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Ready(u8);

impl Ready {
    /// No readiness.
    pub const EMPTY: Ready = Ready(0);
    /// Readable.
    pub const READABLE: Ready = Ready(0b0001);
    /// Writable.
    pub const WRITABLE: Ready = Ready(0b0010);
    /// The read side is closed (the peer shut down its write side).
    pub const READ_CLOSED: Ready = Ready(0b0100);
    /// The write side is closed.
    pub const WRITE_CLOSED: Ready = Ready(0b1000);
    /// Every readiness bit.
    pub const ALL: Ready = Ready(0b1111);

    /// Whether no bit is set.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Whether the socket is readable.
    pub const fn is_readable(self) -> bool {
        self.0 & (Ready::READABLE.0 | Ready::READ_CLOSED.0) != 0
    }

    /// Whether the socket is writable.
    pub const fn is_writable(self) -> bool {
        self.0 & (Ready::WRITABLE.0 | Ready::WRITE_CLOSED.0) != 0
    }

    /// Whether the read side is closed.
    pub const fn is_read_closed(self) -> bool {
        self.0 & Ready::READ_CLOSED.0 != 0
    }

    /// Whether the write side is closed.
    pub const fn is_write_closed(self) -> bool {
        self.0 & Ready::WRITE_CLOSED.0 != 0
    }

    pub(crate) const fn as_usize(self) -> usize {
        self.0 as usize
    }

    pub(crate) const fn from_usize(bits: usize) -> Ready {
        Ready((bits & Ready::ALL.0 as usize) as u8)
    }

    /// The readiness a poller event carries. An error condition makes the
    /// socket both readable and writable, as in Go's netpoll_epoll.go: the
    /// next read or write returns the error itself.
    pub(crate) fn from_mio(ev: &mio::event::Event) -> Ready {
        let mut r = Ready::EMPTY;
        if ev.is_readable() || ev.is_error() {
            r |= Ready::READABLE;
        }
        if ev.is_writable() || ev.is_error() {
            r |= Ready::WRITABLE;
        }
        if ev.is_read_closed() {
            r |= Ready::READ_CLOSED;
        }
        if ev.is_write_closed() {
            r |= Ready::WRITE_CLOSED;
        }
        r
    }

    /// The bits of `self` that `interest` waits for.
    pub(crate) fn intersection(self, interest: Interest) -> Ready {
        Ready(self.0 & interest.mask().0)
    }
}

impl ops::BitOr for Ready {
    type Output = Ready;
    fn bitor(self, other: Ready) -> Ready {
        Ready(self.0 | other.0)
    }
}

impl ops::BitOrAssign for Ready {
    fn bitor_assign(&mut self, other: Ready) {
        self.0 |= other.0;
    }
}

impl ops::Sub for Ready {
    type Output = Ready;
    fn sub(self, other: Ready) -> Ready {
        Ready(self.0 & !other.0)
    }
}

impl fmt::Debug for Ready {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ready")
            .field("readable", &(self.0 & Ready::READABLE.0 != 0))
            .field("writable", &(self.0 & Ready::WRITABLE.0 != 0))
            .field("read_closed", &self.is_read_closed())
            .field("write_closed", &self.is_write_closed())
            .finish()
    }
}
