//! Events as data: what a callback is handed, and the owned `wsc_event` of pull mode
//! (`wsc_connector_next_event`) for hosts that cannot take callbacks on foreign threads.

use super::connector::wsc_connector;
use super::error::FfiError;
use super::macros::{
    accessor, arg_out, arg_ref, as_handle, ffi, ffi_value, into_handle, take_handle, Opaque, Out,
};
use super::socket::{wsc_socket, SocketView};
use super::{wsc_bytes, wsc_message_kind, wsc_result, wsc_str};
use crate::{Event, EventBatch, Message};
use std::time::{Duration, Instant};

/// Which trigger an event is.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum wsc_trigger {
    /// A client finished the handshake on the listener.
    WSC_TRIGGER_INBOUND_CONNECTION = 1,
    /// An inbound socket received a message.
    WSC_TRIGGER_INBOUND_MESSAGE = 2,
    /// An outbound socket received a message.
    WSC_TRIGGER_OUTBOUND_MESSAGE = 3,
    /// A socket closed (exactly once per socket, last).
    WSC_TRIGGER_SOCKET_CLOSED = 4,
    /// A reconnecting outbound socket is about to make an attempt (see wsc_event_reconnect()).
    WSC_TRIGGER_OUTBOUND_RECONNECTING = 5,
    /// A reconnecting outbound socket reconnected (see wsc_event_reconnect()).
    WSC_TRIGGER_OUTBOUND_RECONNECTED = 6,
}

/// An event taken with wsc_connector_next_event(); owned by the caller, freed with
/// wsc_event_free(). Read it from any thread, one at a time.
pub struct wsc_event {
    _private: [u8; 0],
}

impl Opaque for wsc_event {
    type Rust = EventData;
}

/// One event, flattened for C: the trigger, the socket, and the message, the close, or the
/// reconnect.
pub(crate) struct EventData {
    pub trigger: wsc_trigger,
    pub socket: SocketView,
    pub message: Option<Message>,
    pub code: u16,
    pub reason: String,
    /// A reconnecting socket's change: the attempt, its delay, and why.
    pub reconnect: Option<Reconnect>,
    /// Keeps the event counted against the connector's event queue bounds until it is freed.
    _held: EventBatch,
}

/// What wsc_event_reconnect() reads.
pub(crate) struct Reconnect {
    attempt: u32,
    delay_ms: u64,
    error: wsc_result,
    message: String,
}

impl EventData {
    /// The event popped from `held`, which keeps counting it.
    fn new(event: Event, held: EventBatch) -> Self {
        use wsc_trigger::*;
        let trigger = match &event {
            Event::InboundConnection { .. } => WSC_TRIGGER_INBOUND_CONNECTION,
            Event::InboundMessage { .. } => WSC_TRIGGER_INBOUND_MESSAGE,
            Event::OutboundMessage { .. } => WSC_TRIGGER_OUTBOUND_MESSAGE,
            Event::SocketClosed { .. } => WSC_TRIGGER_SOCKET_CLOSED,
            Event::OutboundReconnecting { .. } => WSC_TRIGGER_OUTBOUND_RECONNECTING,
            Event::OutboundReconnected { .. } => WSC_TRIGGER_OUTBOUND_RECONNECTED,
        };
        let mut data = EventData {
            trigger,
            socket: SocketView::new(event.socket().clone()),
            message: None,
            code: 0,
            reason: String::new(),
            reconnect: None,
            _held: held,
        };
        match event {
            Event::InboundConnection { .. } => {}
            Event::InboundMessage { message, .. } | Event::OutboundMessage { message, .. } => {
                data.message = Some(message)
            }
            Event::SocketClosed { code, reason, .. } => (data.code, data.reason) = (code, reason),
            Event::OutboundReconnecting {
                attempt,
                delay,
                error,
                ..
            } => {
                data.reconnect = Some(Reconnect {
                    attempt,
                    delay_ms: u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                    error: error.kind().into(),
                    message: error.message().to_owned(),
                })
            }
            Event::OutboundReconnected { attempts, .. } => {
                data.reconnect = Some(Reconnect {
                    attempt: attempts,
                    delay_ms: 0,
                    error: wsc_result::WSC_OK,
                    message: String::new(),
                })
            }
        }
        data
    }
}

/// Pull mode: takes the next event of a connector that was started with no trigger callback,
/// waiting up to `timeout_ms` milliseconds (0: do not wait; negative: wait as long as it takes).
/// On success `*event_out` is the event (free it with wsc_event_free()), or NULL when the time
/// ran out. Events of one socket come in order, as they would to callbacks. An event counts
/// against the connector's event queue bounds (wsc_config_set_event_queue_capacity(),
/// wsc_config_set_event_queue_bytes()) until it is freed, so free each one once done with it
/// (copy what you keep): while too many are held, sockets stop reading.
/// Errors: WSC_NULL_POINTER, WSC_INVALID_STATE (the connector has trigger callbacks),
/// WSC_STOPPED (the connector stopped and every event has been taken).
/// Threading: any thread; several threads may take events at once (then per-socket order is
/// theirs to keep).
#[no_mangle]
pub extern "C" fn wsc_connector_next_event(
    conn: *const wsc_connector,
    timeout_ms: i64,
    event_out: *mut *mut wsc_event,
) -> wsc_result {
    ffi! {
        let conn = arg_ref!(conn);
        let event_out = arg_out!(event_out);
        let deadline = u64::try_from(timeout_ms)
            .ok()
            .map(|ms| Instant::now() + Duration::from_millis(ms));
        let core = conn.core()?;
        let mut held = EventBatch::new();
        let event = loop {
            let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            core.next_events(&mut held, 1, left)?;
            if held.is_empty() {
                break None; // the time ran out
            }
            if let Some(event) = held.pop() {
                break Some(event);
            }
            // That message's socket was closed by the application since: take the next.
        };
        event_out.set(event.map_or(std::ptr::null_mut(), |event| {
            into_handle::<wsc_event>(EventData::new(event, held))
        }));
        Ok(())
    }
}

/// Which trigger the event is. Errors: WSC_NULL_POINTER. Any thread.
#[no_mangle]
pub extern "C" fn wsc_event_trigger(
    event: *const wsc_event,
    trigger_out: *mut wsc_trigger,
) -> wsc_result {
    accessor!(event, trigger_out, |event| Ok(event.trigger))
}

/// The socket the event is about, borrowed from the event (valid until wsc_event_free()).
/// Errors: WSC_NULL_POINTER. Any thread.
#[no_mangle]
pub extern "C" fn wsc_event_socket(
    event: *const wsc_event,
    socket_out: *mut *const wsc_socket,
) -> wsc_result {
    accessor!(event, socket_out, |event| Ok(as_handle::<wsc_socket>(
        &event.socket
    )))
}

/// The message of a message event: its kind and its payload, borrowed from the event.
/// Errors: WSC_NULL_POINTER, WSC_INVALID_ARGUMENT (not a message event). Any thread.
#[no_mangle]
pub extern "C" fn wsc_event_message(
    event: *const wsc_event,
    kind_out: *mut wsc_message_kind,
    payload_out: *mut wsc_bytes,
) -> wsc_result {
    ffi! {
        let event = arg_ref!(event);
        let kind_out = arg_out!(kind_out);
        let payload_out = arg_out!(payload_out);
        let message = event.message.as_ref().ok_or_else(|| not_a("message"))?;
        kind_out.set(message.kind().into());
        payload_out.set(wsc_bytes::from(message.as_bytes()));
        Ok(())
    }
}

/// The close code and reason of a socket-closed event; the reason is borrowed from the event.
/// Errors: WSC_NULL_POINTER, WSC_INVALID_ARGUMENT (not a socket-closed event). Any thread.
#[no_mangle]
pub extern "C" fn wsc_event_close(
    event: *const wsc_event,
    code_out: *mut u16,
    reason_out: *mut wsc_str,
) -> wsc_result {
    ffi! {
        let event = arg_ref!(event);
        let code_out = arg_out!(code_out);
        let reason_out = arg_out!(reason_out);
        if event.trigger != wsc_trigger::WSC_TRIGGER_SOCKET_CLOSED {
            return Err(not_a("socket-closed"));
        }
        code_out.set(event.code);
        reason_out.set(wsc_str::from(&event.reason));
        Ok(())
    }
}

/// The reconnect of a WSC_TRIGGER_OUTBOUND_RECONNECTING event: the attempt about to be made
/// (from 1), its delay, and why the connection or the previous attempt failed (code and
/// message, borrowed from the event); of a WSC_TRIGGER_OUTBOUND_RECONNECTED event: the attempts
/// it took (delay 0, WSC_OK, empty message), as wsc_outbound_state_fn has them. Each out pointer
/// may be NULL. Errors: WSC_NULL_POINTER, WSC_INVALID_ARGUMENT (another event). Any thread.
#[no_mangle]
pub extern "C" fn wsc_event_reconnect(
    event: *const wsc_event,
    attempt_out: *mut u32,
    delay_ms_out: *mut u64,
    error_out: *mut wsc_result,
    message_out: *mut wsc_str,
) -> wsc_result {
    ffi! {
        let event = arg_ref!(event);
        let reconnect = event.reconnect.as_ref().ok_or_else(|| not_a("reconnect"))?;
        if let Some(out) = Out::optional(attempt_out) {
            out.set(reconnect.attempt);
        }
        if let Some(out) = Out::optional(delay_ms_out) {
            out.set(reconnect.delay_ms);
        }
        if let Some(out) = Out::optional(error_out) {
            out.set(reconnect.error);
        }
        if let Some(out) = Out::optional(message_out) {
            out.set(wsc_str::from(&reconnect.message));
        }
        Ok(())
    }
}

/// Frees an event from wsc_connector_next_event(); NULL is a no-op. Views taken from it die
/// with it. Any thread.
#[no_mangle]
pub extern "C" fn wsc_event_free(event: *mut wsc_event) {
    ffi_value!((), {
        // SAFETY: the header requires a pointer from wsc_connector_next_event(), freed once.
        drop(unsafe { take_handle(event) });
    })
}

fn not_a(what: &str) -> FfiError {
    FfiError::invalid(format!("the event is not a {what} event"))
}
