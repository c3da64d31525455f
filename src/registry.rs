//! Which sockets exist and which groups they hold: sockets by ID, the group index, and the
//! filters that broadcast and bulk close select with.

use crate::config::validate_groups;
use crate::error::{Error, ErrorKind, Result};
use crate::path::PathPattern;
use crate::socket::{GroupIndex, Socket, SocketId, SocketType};
use dashmap::mapref::entry::Entry;
use dashmap::DashMap;
use rustc_hash::FxBuildHasher;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

/// Told the name of each group that appears or disappears.
pub(crate) type GroupWatch = Box<dyn Fn(Arc<str>) + Send + Sync>;

/// Selects sockets by full path, socket type, groups and exclusions; every part is optional and
/// the parts combine with AND. `groups` is any-of (a member of one of them matches),
/// `all_groups` is all-of; `except_socket_ids` and `except_groups` leave sockets out whatever
/// else they match ("the room but not the sender", "everyone but the muted").
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SocketFilter {
    /// Full path, exact or `*` pattern; `None` matches every path.
    pub path: Option<PathPattern>,
    /// Inbound or outbound only; `None` matches both.
    pub socket_type: Option<SocketType>,
    /// Member of at least one of these groups; empty matches every socket.
    pub groups: Vec<String>,
    /// Member of every one of these groups; empty matches every socket.
    pub all_groups: Vec<String>,
    /// Sockets left out by ID whatever else they match.
    pub except_socket_ids: Vec<SocketId>,
    /// Sockets in any of these groups are left out whatever else they match.
    pub except_groups: Vec<String>,
}

impl SocketFilter {
    /// A filter that matches every socket.
    pub fn all() -> Self {
        SocketFilter::default()
    }

    /// Keeps sockets whose full path matches `pattern` (exact, or with `*`).
    pub fn with_path(mut self, pattern: &str) -> Result<Self> {
        self.path = Some(PathPattern::new(pattern)?);
        Ok(self)
    }

    /// Keeps sockets of one type.
    pub fn with_type(mut self, socket_type: SocketType) -> Self {
        self.socket_type = Some(socket_type);
        self
    }

    /// Keeps sockets in at least one of `groups` (any-of).
    pub fn with_groups<S: Into<String>>(mut self, groups: impl IntoIterator<Item = S>) -> Self {
        self.groups = groups.into_iter().map(Into::into).collect();
        self
    }

    /// Keeps sockets in every one of `groups` (all-of).
    pub fn with_all_groups<S: Into<String>>(mut self, groups: impl IntoIterator<Item = S>) -> Self {
        self.all_groups = groups.into_iter().map(Into::into).collect();
        self
    }

    /// Leaves out the sockets with these IDs.
    pub fn except_socket_ids(mut self, ids: impl IntoIterator<Item = SocketId>) -> Self {
        self.except_socket_ids = ids.into_iter().collect();
        self
    }

    /// Leaves out the sockets in any of `groups`.
    pub fn except_groups<S: Into<String>>(mut self, groups: impl IntoIterator<Item = S>) -> Self {
        self.except_groups = groups.into_iter().map(Into::into).collect();
        self
    }

    /// Checks every group name the filter holds (empty or too long is `InvalidArgument`).
    pub(crate) fn validate(&self) -> Result<()> {
        validate_groups(&self.groups)?;
        validate_groups(&self.all_groups)?;
        validate_groups(&self.except_groups)
    }

    /// Whether `socket` passes the path, type and ID parts (groups are checked by the index,
    /// and the all-of and except parts by [`SocketFilter::matches_membership`]).
    fn matches_attributes(&self, socket: &Socket) -> bool {
        self.socket_type.is_none_or(|t| t == socket.socket_type())
            && self.path.as_ref().is_none_or(|p| p.matches(socket.path()))
            && (self.except_socket_ids.is_empty() || !self.except_socket_ids.contains(socket.id()))
    }

    /// Whether the filter has group parts that need the socket's own groups.
    fn reads_membership(&self) -> bool {
        !self.all_groups.is_empty() || !self.except_groups.is_empty()
    }

    /// Whether `socket` is in every all-of group and in no except group. Takes the socket's
    /// membership lock: never called while a group index entry is held (join takes them in the
    /// other order).
    fn matches_membership(&self, socket: &Socket) -> bool {
        let membership = socket.membership();
        self.all_groups
            .iter()
            .all(|g| membership.groups.contains(g.as_str()))
            && !self
                .except_groups
                .iter()
                .any(|g| membership.groups.contains(g.as_str()))
    }
}

/// Sockets by ID and the group index. The index and each socket's own group set change
/// together under the socket's membership lock, so they never disagree.
#[derive(Default)]
pub(crate) struct Registry {
    /// Keyed by IDs the connector generates or the application chooses: a fast hash is safe.
    sockets: DashMap<SocketId, Socket, FxBuildHasher>,
    /// Group names may come from peers (a chat room's name): the default, flood-resistant hash.
    groups: DashMap<Arc<str>, HashMap<SocketId, Socket, FxBuildHasher>>,
    /// Told the name of a group that gained its first member or lost its last one (the
    /// cluster follows the groups this node holds).
    group_watch: OnceLock<GroupWatch>,
}

impl Registry {
    /// Adds a socket and subscribes it to `groups`; fails if its ID is taken. The socket keeps
    /// a weak link to this registry's group index, for its own subscribe and unsubscribe.
    pub(crate) fn insert(self: &Arc<Self>, socket: &Socket, groups: &[String]) -> Result<()> {
        validate_groups(groups)?;
        match self.sockets.entry(socket.id().clone()) {
            Entry::Occupied(_) => {
                return Err(Error::new(
                    ErrorKind::NonUniqueSocketId,
                    format!("socket ID {:?} is already in use", socket.id().as_str()),
                ))
            }
            Entry::Vacant(slot) => {
                slot.insert(socket.clone());
            }
        }
        let index: Arc<dyn GroupIndex> = self.clone();
        socket.membership().index = Some(Arc::downgrade(&index));
        self.join(socket, groups)
    }

    /// Removes a socket from the registry and from every group. Returns false if it was gone.
    pub(crate) fn remove(&self, socket: &Socket) -> bool {
        let mut membership = socket.membership();
        if membership.removed {
            return false;
        }
        membership.removed = true;
        // The socket keeps its groups as they were (its closed event shows them); it leaves
        // the index, and nothing may join or leave any more.
        for group in &membership.groups {
            self.leave_index(group, socket.id());
        }
        drop(membership);
        self.sockets.remove_if(socket.id(), |_, s| s == socket);
        true
    }

    /// The open socket with this ID.
    pub(crate) fn get(&self, id: &str) -> Result<Socket> {
        self.sockets
            .get(id)
            .map(|s| s.clone())
            .ok_or_else(|| Error::no_such_socket(id))
    }

    /// Whether an open socket has this ID.
    pub(crate) fn contains(&self, id: &str) -> bool {
        self.sockets.contains_key(id)
    }

    /// Adds groups to a socket; groups it already has are ignored.
    pub(crate) fn subscribe<S: AsRef<str>>(&self, socket: &Socket, groups: &[S]) -> Result<()> {
        validate_groups(groups)?;
        self.join(socket, groups)
    }

    /// Adds valid groups to a socket.
    fn join<S: AsRef<str>>(&self, socket: &Socket, groups: &[S]) -> Result<()> {
        let mut membership = socket.membership();
        if membership.removed {
            return Err(Error::no_such_socket(socket.id().as_str()));
        }
        for group in groups {
            let group = group.as_ref();
            if membership.groups.contains(group) {
                continue;
            }
            let name: Arc<str> = match self.groups.get(group) {
                Some(entry) => entry.key().clone(),
                None => Arc::from(group),
            };
            membership.groups.insert(name.clone());
            let mut created = false;
            self.groups
                .entry(name.clone())
                .or_insert_with(|| {
                    created = true;
                    HashMap::default()
                })
                .insert(socket.id().clone(), socket.clone());
            if created {
                self.group_changed(name);
            }
        }
        Ok(())
    }

    /// Tells the watcher, if any, that `group` appeared or disappeared.
    fn group_changed(&self, group: Arc<str>) {
        if let Some(watch) = self.group_watch.get() {
            watch(group);
        }
    }

    /// Sends the watcher every group that gains its first member or loses its last one.
    pub(crate) fn watch_groups(&self, watch: GroupWatch) {
        let _ = self.group_watch.set(watch);
    }

    /// Whether `group` has at least one member.
    pub(crate) fn has_group(&self, group: &str) -> bool {
        self.groups.contains_key(group)
    }

    /// The groups that have at least one member.
    pub(crate) fn group_names(&self) -> Vec<Arc<str>> {
        self.groups.iter().map(|e| e.key().clone()).collect()
    }

    /// Removes groups (validated by the caller) from a socket; groups it does not have are
    /// ignored.
    pub(crate) fn unsubscribe<S: AsRef<str>>(&self, socket: &Socket, groups: &[S]) -> Result<()> {
        let mut membership = socket.membership();
        if membership.removed {
            return Err(Error::no_such_socket(socket.id().as_str()));
        }
        for group in groups {
            if membership.groups.remove(group.as_ref()) {
                self.leave_index(group.as_ref(), socket.id());
            }
        }
        Ok(())
    }

    fn leave_index(&self, group: &str, id: &SocketId) {
        if let Some(mut members) = self.groups.get_mut(group) {
            members.remove(id);
        }
        if let Some((name, _)) = self
            .groups
            .remove_if(group, |_, members| members.is_empty())
        {
            self.group_changed(name);
        }
    }

    /// Calls `each` for every open socket that matches `filter`, once per socket, without
    /// collecting them first (the broadcast path). `each` must not touch the registry.
    pub(crate) fn for_each_match(&self, filter: &SocketFilter, mut each: impl FnMut(&Socket)) {
        if filter.reads_membership() {
            return self.select(filter).iter().for_each(each);
        }
        match filter.groups.as_slice() {
            [] => {
                for entry in self.sockets.iter() {
                    if filter.matches_attributes(entry.value()) {
                        each(entry.value());
                    }
                }
            }
            [group] => {
                if let Some(members) = self.groups.get(group.as_str()) {
                    members
                        .values()
                        .filter(|s| filter.matches_attributes(s))
                        .for_each(each);
                }
            }
            _ => self.select(filter).iter().for_each(each),
        }
    }

    /// The open sockets that match `filter`.
    pub(crate) fn select(&self, filter: &SocketFilter) -> Vec<Socket> {
        let mut out = Vec::new();
        match filter.groups.as_slice() {
            // A socket in every all-of group is in the first: its members are the candidates.
            [] if !filter.all_groups.is_empty() => {
                self.collect_group(&filter.all_groups[0], filter, &mut out)
            }
            [] => {
                for entry in self.sockets.iter() {
                    if filter.matches_attributes(entry.value()) {
                        out.push(entry.value().clone());
                    }
                }
            }
            [group] => self.collect_group(group, filter, &mut out),
            groups => {
                for group in groups {
                    self.collect_group(group, filter, &mut out);
                }
                // A socket in several of the groups is selected once.
                out.sort_unstable_by_key(|s| Arc::as_ptr(&s.0));
                out.dedup();
            }
        }
        if filter.reads_membership() {
            // After every index entry is released (see `matches_membership`).
            out.retain(|socket| filter.matches_membership(socket));
        }
        out
    }

    fn collect_group(&self, group: &str, filter: &SocketFilter, out: &mut Vec<Socket>) {
        if let Some(members) = self.groups.get(group) {
            out.extend(
                members
                    .values()
                    .filter(|s| filter.matches_attributes(s))
                    .cloned(),
            );
        }
    }

    /// Calls `each` for every open socket, without collecting them first. `each` must not
    /// touch the registry.
    pub(crate) fn for_each(&self, mut each: impl FnMut(&Socket)) {
        self.sockets.iter().for_each(|entry| each(entry.value()));
    }

    /// Begins to close the open sockets that match `filter` (code and reason checked by the
    /// caller); how many it began to close (bulk close).
    pub(crate) fn close_matching(&self, filter: &SocketFilter, code: u16, reason: &str) -> usize {
        self.select(filter)
            .iter()
            .filter(|socket| socket.request_close(code, reason))
            .count()
    }

    /// Every open socket.
    pub(crate) fn all(&self) -> Vec<Socket> {
        self.sockets.iter().map(|e| e.value().clone()).collect()
    }

    /// How many sockets are open.
    pub(crate) fn len(&self) -> usize {
        self.sockets.len()
    }

    /// How many groups have at least one member.
    pub(crate) fn group_count(&self) -> usize {
        self.groups.len()
    }
}

impl GroupIndex for Registry {
    fn subscribe(&self, socket: &Socket, groups: &[&str]) -> Result<()> {
        self.join(socket, groups)
    }

    fn unsubscribe(&self, socket: &Socket, groups: &[&str]) -> Result<()> {
        Registry::unsubscribe(self, socket, groups)
    }
}
