//! Each socket's events on their way to the dispatcher pool: one mailbox per socket that has
//! events waiting or being handled, and the mailboxes ready for a free thread, oldest first.
//!
//! A mailbox is in the hands of at most one thread at a time, so a socket's events are handled
//! one at a time and in the order they were posted; any free thread takes the next ready
//! mailbox, so a busy socket holds up no other (no fixed assignment of sockets to threads).

use crate::events::Event;
use crate::socket::Socket;
use rustc_hash::FxBuildHasher;
use std::collections::{HashMap, VecDeque};

/// Events with the memory each keeps (see `events::EventQueue`).
pub(crate) type Events = VecDeque<(Event, usize)>;

/// Identifies a socket's mailbox: the address of the socket's shared state, which the mailbox
/// keeps alive (so two live mailboxes never share one).
pub(crate) type MailboxKey = usize;

struct Mailbox {
    /// Keeps the socket, and so its key, alive while the mailbox exists.
    _socket: Socket,
    events: Events,
    /// A thread is handling events of this mailbox.
    busy: bool,
}

/// The mailboxes of the sockets that have events waiting or being handled.
#[derive(Default)]
pub(crate) struct Mailboxes {
    boxes: HashMap<MailboxKey, Mailbox, FxBuildHasher>,
    /// Mailboxes with events and no thread, in the order they became ready.
    ready: VecDeque<MailboxKey>,
}

impl Mailboxes {
    /// Puts an event in its socket's mailbox, after the socket's earlier events.
    pub(crate) fn post(&mut self, event: Event, bytes: usize) {
        let key = key_of(event.socket());
        let mailbox = self.boxes.entry(key).or_insert_with(|| Mailbox {
            _socket: event.socket().clone(),
            events: VecDeque::new(),
            busy: false,
        });
        if mailbox.events.is_empty() && !mailbox.busy {
            self.ready.push_back(key);
        }
        mailbox.events.push_back((event, bytes));
    }

    /// Whether a mailbox waits for a thread.
    pub(crate) fn has_ready(&self) -> bool {
        !self.ready.is_empty()
    }

    /// Gives the calling thread the oldest ready mailbox: moves its events into `into` (empty)
    /// and marks it busy until [`Mailboxes::done`].
    pub(crate) fn take_ready(&mut self, into: &mut Events) -> Option<MailboxKey> {
        let key = self.ready.pop_front()?;
        let mailbox = self.boxes.get_mut(&key)?;
        mailbox.busy = true;
        std::mem::swap(&mut mailbox.events, into);
        Some(key)
    }

    /// The thread has handled the events it took from `key`: the mailbox is ready again if
    /// more came meanwhile (behind the other ready ones, so that a chatty socket takes its turn
    /// with the others), and is forgotten otherwise.
    pub(crate) fn done(&mut self, key: MailboxKey) {
        let Some(mailbox) = self.boxes.get_mut(&key) else {
            return;
        };
        mailbox.busy = false;
        if mailbox.events.is_empty() {
            self.boxes.remove(&key);
        } else {
            self.ready.push_back(key);
        }
    }
}

fn key_of(socket: &Socket) -> MailboxKey {
    std::sync::Arc::as_ptr(&socket.0) as MailboxKey
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::message::Message;
    use crate::queue::SendQueue;

    fn socket() -> Socket {
        Socket::for_tests(SendQueue::standalone(1, 1, crate::SlowConsumerPolicy::Fail))
    }

    fn message(socket: &Socket, text: &str) -> Event {
        Event::InboundMessage {
            socket: socket.clone(),
            message: Message::text(text),
        }
    }

    fn texts(events: &mut Events) -> Vec<String> {
        events
            .drain(..)
            .map(|(e, _)| e.message().unwrap().as_text().unwrap().to_owned())
            .collect()
    }

    #[test]
    fn one_thread_per_socket_in_order_and_busy_sockets_queue_behind_the_others() {
        let (a, b) = (socket(), socket());
        let mut boxes = Mailboxes::default();
        boxes.post(message(&a, "a1"), 0);
        boxes.post(message(&b, "b1"), 0);
        boxes.post(message(&a, "a2"), 0);
        let mut first = Events::new();
        let ka = boxes.take_ready(&mut first).unwrap();
        assert_eq!(texts(&mut first), ["a1", "a2"]);
        // a is busy: its next event waits for it, b goes to another thread.
        boxes.post(message(&a, "a3"), 0);
        let mut second = Events::new();
        let kb = boxes.take_ready(&mut second).unwrap();
        assert_eq!(texts(&mut second), ["b1"]);
        assert!(!boxes.has_ready());
        boxes.post(message(&b, "b2"), 0);
        boxes.done(ka);
        boxes.done(kb);
        let mut third = Events::new();
        boxes.take_ready(&mut third).unwrap();
        assert_eq!(texts(&mut third), ["a3"], "a became ready again first");
        boxes.take_ready(&mut third).unwrap();
        assert_eq!(texts(&mut third), ["b2"]);
    }

    #[test]
    fn a_mailbox_is_forgotten_once_handled() {
        let a = socket();
        let mut boxes = Mailboxes::default();
        boxes.post(message(&a, "a1"), 0);
        let mut events = Events::new();
        let key = boxes.take_ready(&mut events).unwrap();
        boxes.done(key);
        assert!(boxes.boxes.is_empty() && !boxes.has_ready());
    }
}
