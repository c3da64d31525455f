//! Which handler an event goes to, as Mule declares triggers: a trigger's handlers registered
//! for path patterns, and its catch-all. The registry and the selection live here; the Rust
//! builder, the C callbacks and the Python decorators all select through
//! [`Routes::handler_for`].
//!
//! Precedence, for an event on a socket whose full path is `p`: among the patterns of the
//! event's trigger that match `p`, an exact path first; then the pattern with more literal
//! characters (`/chat/vip/*` before `/chat/*`); then the one with fewer `*` (`/chat/{room}`
//! before `/chat/*`); then the one registered first. No pattern matches: the trigger's
//! catch-all (the registration without a path), if any.

use crate::dispatch::EventHandler;
use crate::events::{Event, Trigger};
use crate::handle::ConnectorHandle;
use crate::path::PathPattern;
use std::sync::Arc;

/// One trigger's handlers: some for path patterns, and a catch-all.
pub struct Routes<H> {
    /// Most specific first (see the module's precedence).
    at: Vec<(PathPattern, H)>,
    any: Option<H>,
}

impl<H> Default for Routes<H> {
    fn default() -> Self {
        Routes {
            at: Vec::new(),
            any: None,
        }
    }
}

impl<H> Routes<H> {
    /// Sets the catch-all (`None` removes it); returns the one it replaced.
    pub fn set_catch_all(&mut self, handler: Option<H>) -> Option<H> {
        std::mem::replace(&mut self.any, handler)
    }

    /// Registers `handler` for paths that match `pattern` (`None` removes the pattern's
    /// handler); returns the one it replaced for the same pattern.
    pub fn set_at(&mut self, pattern: PathPattern, handler: Option<H>) -> Option<H> {
        let old = self
            .at
            .iter()
            .position(|(p, _)| *p == pattern)
            .map(|at| self.at.remove(at).1);
        if let Some(handler) = handler {
            let rank = pattern.specificity();
            // After every pattern at least as specific: equal ones keep registration order.
            let at = self.at.partition_point(|(p, _)| p.specificity() >= rank);
            self.at.insert(at, (pattern, handler));
        }
        old
    }

    /// The handler for an event on a socket whose full path is `path`: the most specific
    /// matching pattern's, else the catch-all.
    pub fn handler_for(&self, path: &str) -> Option<&H> {
        self.at
            .iter()
            .find(|(pattern, _)| pattern.matches(path))
            .map(|(_, handler)| handler)
            .or(self.any.as_ref())
    }

    /// [`Routes::handler_for`] the socket's path, read only when a pattern is registered: a
    /// catch-all alone needs no path (its look-up is about 25 instructions per event).
    pub(crate) fn handler_for_socket(&self, socket: &crate::Socket) -> Option<&H> {
        if self.at.is_empty() {
            return self.any.as_ref();
        }
        // Out of line, so that the path is not read ahead of the check above.
        #[inline(never)]
        fn matching<'a, H>(routes: &'a Routes<H>, socket: &crate::Socket) -> Option<&'a H> {
            routes.handler_for(socket.path())
        }
        matching(self, socket)
    }

    /// Whether no handler is registered.
    pub fn is_empty(&self) -> bool {
        self.at.is_empty() && self.any.is_none()
    }

    /// The same registrations with each handler mapped by `f` (a binding's copy of its
    /// callbacks for the dispatcher).
    pub fn map<G>(&self, mut f: impl FnMut(&H) -> G) -> Routes<G> {
        Routes {
            at: self.at.iter().map(|(p, h)| (p.clone(), f(h))).collect(),
            any: self.any.as_ref().map(f),
        }
    }

    /// Every handler registered (for releasing or traversing them).
    pub fn handlers(&self) -> impl Iterator<Item = &H> {
        self.at.iter().map(|(_, h)| h).chain(self.any.as_ref())
    }
}

/// The Rust builder's handlers: per trigger, then the `on_event` handler for every event no
/// registration of its trigger takes.
#[derive(Default)]
pub(crate) struct Router {
    triggers: Vec<(Trigger, Routes<Arc<dyn EventHandler>>)>,
    fallback: Option<Arc<dyn EventHandler>>,
}

impl Router {
    /// The routes of `trigger`, made on first use.
    pub(crate) fn routes(&mut self, trigger: Trigger) -> &mut Routes<Arc<dyn EventHandler>> {
        let at = match self.triggers.iter().position(|(t, _)| *t == trigger) {
            Some(at) => at,
            None => {
                self.triggers.push((trigger, Routes::default()));
                self.triggers.len() - 1
            }
        };
        &mut self.triggers[at].1
    }

    /// Sets the handler of every event that no registration of its trigger takes.
    pub(crate) fn set_fallback(&mut self, handler: Arc<dyn EventHandler>) {
        self.fallback = Some(handler);
    }

    /// The handler for this event: its trigger's (see the module's precedence), else the
    /// fallback.
    fn handler_for(&self, event: &Event) -> Option<&Arc<dyn EventHandler>> {
        let trigger = event.trigger();
        self.triggers
            .iter()
            .find(|(t, _)| *t == trigger)
            .and_then(|(_, routes)| routes.handler_for_socket(event.socket()))
            .or(self.fallback.as_ref())
    }

    /// The one handler the dispatcher calls: the fallback alone when nothing is routed.
    pub(crate) fn into_handler(self) -> Option<Arc<dyn EventHandler>> {
        if self.triggers.iter().all(|(_, r)| r.is_empty()) {
            return self.fallback;
        }
        Some(Arc::new(self))
    }
}

impl EventHandler for Router {
    fn on_event(&self, connector: &ConnectorHandle, event: Event) {
        if let Some(handler) = self.handler_for(&event) {
            handler.on_event(connector, event);
        }
    }

    /// A trigger with a registration, or any the fallback takes.
    fn takes(&self, trigger: Trigger) -> bool {
        self.triggers
            .iter()
            .any(|(t, routes)| *t == trigger && routes.handlers().any(|h| h.takes(trigger)))
            || self.fallback.as_ref().is_some_and(|h| h.takes(trigger))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn routes(patterns: &[&str]) -> Routes<String> {
        let mut routes = Routes::default();
        for p in patterns {
            routes.set_at(PathPattern::new(p).unwrap(), Some(p.to_string()));
        }
        routes
    }

    #[test]
    fn the_most_specific_match_wins_else_the_catch_all() {
        let mut r = routes(&["*", "/chat/*", "/chat/{room}", "/chat/vip/*", "/chat/lobby"]);
        let pick = |r: &Routes<String>, path| r.handler_for(path).cloned();
        assert_eq!(pick(&r, "/chat/lobby").as_deref(), Some("/chat/lobby"));
        assert_eq!(pick(&r, "/chat/vip/1").as_deref(), Some("/chat/vip/*"));
        assert_eq!(pick(&r, "/chat/other").as_deref(), Some("/chat/{room}"));
        assert_eq!(pick(&r, "/chat/a/b").as_deref(), Some("/chat/*"));
        assert_eq!(pick(&r, "/feed").as_deref(), Some("*"));
        r.set_at(PathPattern::new("*").unwrap(), None);
        assert_eq!(pick(&r, "/feed"), None);
        r.set_catch_all(Some("any".into()));
        assert_eq!(pick(&r, "/feed").as_deref(), Some("any"));
        // Equal specificity: registration order.
        let r = routes(&["/a/*/c", "/a/b/*"]);
        assert_eq!(pick(&r, "/a/b/c").as_deref(), Some("/a/*/c"));
        // The same pattern again replaces.
        let mut r = routes(&["/x"]);
        assert_eq!(
            r.set_at(PathPattern::new("/x").unwrap(), Some("new".into())),
            Some("/x".into())
        );
        assert_eq!(pick(&r, "/x").as_deref(), Some("new"));
        assert_eq!(r.handlers().count(), 1);
    }
}
