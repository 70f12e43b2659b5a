//! Which connections the server admits, so that no client can take the whole
//! instance down by holding connections open (security issue 18, finding 5):
//!
//! - **per address**: at most `--connexions-par-adresse` open connections from
//!   one client address (IPv4, or IPv6 grouped by /64); the next one is closed
//!   at once, without an answer (nothing is read, nothing is spent on it);
//! - **global**: at most `--max-connexions` ordinary connections, plus a small
//!   **reserve** ([`reserve_for`]) whose connections serve one request and
//!   answer only `/healthz` (everything else gets the French 503): the load
//!   balancer still sees the instance alive when it is saturated;
//! - **idle connections are shed first**: when the pool is full, a newcomer
//!   takes the place of a connection that has no request in progress (kept
//!   alive between two requests, or whose headers are not complete), chosen
//!   from the address holding the most connections. A newcomer only displaces
//!   a connection of its own address or of an address holding more
//!   connections than it will, so that clients sharing the capacity do not
//!   push each other out in a loop; an ordinary connection is only shed after
//!   [`MIN_IDLE`] without a request (a browser between two files of a page
//!   keeps its connection). In the reserve, where a health check sends its
//!   request at once, the connection idle the longest gives way to a newcomer
//!   whose address holds fewer connections than the connection's address (a
//!   load balancer's probe usually holds none).
//!
//! The bookkeeping is one entry per open connection and one per address with
//! open connections (removed when its count falls to zero): memory stays
//! proportional to the connections, which are bounded.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

/// How long an ordinary connection must have been without a request before it can be shed.
pub const MIN_IDLE: Duration = Duration::from_secs(1);

/// Connections kept for `/healthz` beyond `max`: 1/16 of it, between 4 and 64.
pub fn reserve_for(max: usize) -> usize {
    (max / 16).clamp(4, 64)
}

/// The address a connection is counted under: IPv4 as is (an IPv4-mapped IPv6
/// address as its IPv4), IPv6 by /64 (what one subscriber usually gets).
pub fn address_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
        v4 => v4,
    }
}

const IDLE: u8 = 0;
const BUSY: u8 = 1;
const SHED: u8 = 2;

/// What the registry knows of one open connection.
#[derive(Debug)]
pub struct Conn {
    key: IpAddr,
    reserve: bool,
    state: AtomicU8,
    /// Whether a request has been received on it (an ordinary client sends one at once).
    served: AtomicBool,
    /// Milliseconds since the registry's start, at the end of the last request (or at accept).
    idle_since: AtomicU64,
    epoch: Instant,
    shed: Notify,
}

impl Conn {
    /// True for a connection of the reserve (`/healthz` only, one request).
    pub fn is_reserve(&self) -> bool {
        self.reserve
    }

    /// A request begins: the connection cannot be shed until the guard is dropped
    /// (with the response's body). `None` if it has just been chosen to be shed.
    pub fn begin(self: &Arc<Self>) -> Option<Busy> {
        self.state
            .compare_exchange(IDLE, BUSY, Ordering::AcqRel, Ordering::Acquire)
            .ok()?;
        self.served.store(true, Ordering::Relaxed);
        Some(Busy(self.clone()))
    }

    /// Completes when the registry has chosen this connection to make room.
    pub async fn shed_requested(&self) {
        self.shed.notified().await
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
}

/// A request in progress on a connection (see [`Conn::begin`]).
#[derive(Debug)]
pub struct Busy(Arc<Conn>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.idle_since.store(self.0.now_ms(), Ordering::Relaxed);
        let _ = self
            .0
            .state
            .compare_exchange(BUSY, IDLE, Ordering::AcqRel, Ordering::Acquire);
    }
}

/// The decision on a new connection.
pub enum Admission {
    /// An ordinary connection.
    Normal(Ticket),
    /// A connection of the reserve: `/healthz` only.
    Reserve(Ticket),
    /// Closed at once.
    Refused,
}

/// An admitted connection's place, given back when dropped.
pub struct Ticket {
    registry: Arc<Registry>,
    id: u64,
    pub conn: Arc<Conn>,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.registry.release(self.id, &self.conn);
    }
}

#[derive(Default)]
struct State {
    per_address: HashMap<IpAddr, usize>,
    conns: HashMap<u64, Arc<Conn>>,
    next_id: u64,
    /// Open connections of each pool, those being shed included.
    normal: usize,
    reserve: usize,
    /// Connections chosen to be shed whose task has not ended yet, per pool.
    shedding_normal: usize,
    shedding_reserve: usize,
}

/// The open connections of a server, by address and by pool.
pub struct Registry {
    state: Mutex<State>,
    max: usize,
    reserve: usize,
    per_address: Option<usize>,
    epoch: Instant,
    capped: Notice,
    full: Notice,
    shed: Notice,
}

impl Registry {
    /// `max` ordinary connections (plus [`reserve_for`]`(max)` for `/healthz`), at most
    /// `per_address` from one address (`None`: no limit).
    pub fn new(max: usize, per_address: Option<usize>) -> Arc<Registry> {
        Registry::since(Instant::now(), max, per_address)
    }

    fn since(epoch: Instant, max: usize, per_address: Option<usize>) -> Arc<Registry> {
        Arc::new(Registry {
            state: Mutex::new(State::default()),
            max,
            reserve: reserve_for(max),
            per_address,
            epoch,
            capped: Notice::default(),
            full: Notice::default(),
            shed: Notice::default(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves counts that are still consistent.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Decides on a connection from `ip`, shedding an idle one if the pool is full.
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Admission {
        let key = address_key(ip);
        let mut st = self.lock();
        let held = st.per_address.get(&key).copied().unwrap_or(0);
        if let Some(limit) = self.per_address {
            if held >= limit {
                drop(st);
                if let Some(skipped) = self.capped.due(self.now_ms()) {
                    tracing::warn!(
                        adresse = %key, connexions = held, limite = limit, refus_non_signales = skipped,
                        "trop de connexions depuis une même adresse : nouvelle connexion fermée"
                    );
                }
                return Admission::Refused;
            }
        }
        let now = self.now_ms();
        let reserve = if st.normal - st.shedding_normal < self.max || self.shed_one(&mut st, key, held, false, now) {
            false
        } else if st.reserve - st.shedding_reserve < self.reserve || self.shed_one(&mut st, key, held, true, now) {
            true
        } else {
            drop(st);
            if let Some(skipped) = self.full.due(now) {
                tracing::warn!(
                    limite = self.max,
                    reserve = self.reserve,
                    refus_non_signales = skipped,
                    "toutes les connexions sont occupées : nouvelle connexion fermée"
                );
            }
            return Admission::Refused;
        };
        let conn = Arc::new(Conn {
            key,
            reserve,
            state: AtomicU8::new(IDLE),
            served: AtomicBool::new(false),
            idle_since: AtomicU64::new(now),
            epoch: self.epoch,
            shed: Notify::new(),
        });
        let id = st.next_id;
        st.next_id = st.next_id.wrapping_add(1);
        st.conns.insert(id, conn.clone());
        *st.per_address.entry(key).or_insert(0) += 1;
        if reserve {
            st.reserve += 1;
        } else {
            st.normal += 1;
        }
        drop(st);
        let ticket = Ticket {
            registry: self.clone(),
            id,
            conn,
        };
        if reserve {
            Admission::Reserve(ticket)
        } else {
            Admission::Normal(ticket)
        }
    }

    /// Chooses an idle connection of the pool that the newcomer from `key` (holding
    /// `held`) may displace, and tells it to close. True if one was found.
    fn shed_one(&self, st: &mut State, key: IpAddr, held: usize, reserve: bool, now: u64) -> bool {
        let min_idle = u64::try_from(MIN_IDLE.as_millis()).unwrap_or(u64::MAX);
        // (connections of its address, never served, idle time, age of the connection)
        type Rank = (usize, bool, u64, u64);
        let mut best: Option<(&Arc<Conn>, usize, Rank)> = None;
        for (id, c) in &st.conns {
            if c.reserve != reserve || c.state.load(Ordering::Acquire) != IDLE {
                continue;
            }
            let idle = now.saturating_sub(c.idle_since.load(Ordering::Relaxed));
            let theirs = st.per_address.get(&c.key).copied().unwrap_or(0);
            let rank = if reserve {
                // A health check sends its request at once: the longest idle (then the oldest)
                // is no probe. Only a newcomer holding fewer connections than its address may
                // push it out: clients that hold many cannot churn the reserve.
                if theirs <= held {
                    continue;
                }
                (0, false, idle, u64::MAX - id)
            } else {
                // Its own address, or one holding more than the newcomer will; kept a while.
                if idle < min_idle || (theirs <= held + 1 && c.key != key) {
                    continue;
                }
                (theirs, !c.served.load(Ordering::Relaxed), idle, u64::MAX - id)
            };
            if best.as_ref().is_none_or(|(_, _, r)| rank > *r) {
                best = Some((c, theirs, rank));
            }
        }
        let Some((victim, theirs)) = best.map(|(c, theirs, _)| (c.clone(), theirs)) else {
            return false;
        };
        // The connection's task may have just started a request: then it is no longer idle.
        if victim
            .state
            .compare_exchange(IDLE, SHED, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return false;
        }
        victim.shed.notify_one();
        let victim_key = victim.key;
        if reserve {
            st.shedding_reserve += 1;
        } else {
            st.shedding_normal += 1;
        }
        if let Some(skipped) = self.shed.due(now) {
            tracing::warn!(
                adresse = %victim_key, connexions = theirs, reserve, delestages_non_signales = skipped,
                "connexions saturées : une connexion inactive est fermée pour faire place"
            );
        }
        true
    }

    fn release(&self, id: u64, conn: &Conn) {
        let mut st = self.lock();
        if st.conns.remove(&id).is_none() {
            return;
        }
        let shed = conn.state.load(Ordering::Acquire) == SHED;
        if conn.reserve {
            st.reserve -= 1;
            st.shedding_reserve -= usize::from(shed);
        } else {
            st.normal -= 1;
            st.shedding_normal -= usize::from(shed);
        }
        if let Some(n) = st.per_address.get_mut(&conn.key) {
            *n -= 1;
            if *n == 0 {
                st.per_address.remove(&conn.key);
            }
        }
    }

    /// Open connections: (ordinary, reserve, distinct addresses).
    #[cfg(test)]
    fn counts(&self) -> (usize, usize, usize) {
        let st = self.lock();
        (st.normal, st.reserve, st.per_address.len())
    }
}

/// At most one log line per kind of event every 10 s, with the number left unsaid.
#[derive(Default)]
struct Notice {
    last: AtomicU64,
    skipped: AtomicU64,
    said: AtomicBool,
}

impl Notice {
    const EVERY_MS: u64 = 10_000;

    fn due(&self, now: u64) -> Option<u64> {
        let last = self.last.load(Ordering::Relaxed);
        let first = !self.said.swap(true, Ordering::Relaxed);
        if (first || now.saturating_sub(last) >= Self::EVERY_MS)
            && self
                .last
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            return Some(self.skipped.swap(0, Ordering::Relaxed));
        }
        self.skipped.fetch_add(1, Ordering::Relaxed);
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn ticket(a: Admission) -> Option<(Ticket, bool)> {
        match a {
            Admission::Normal(t) => Some((t, false)),
            Admission::Reserve(t) => Some((t, true)),
            Admission::Refused => None,
        }
    }

    #[test]
    fn ipv6_counts_per_64_and_mapped_ipv4_as_ipv4() {
        assert_eq!(address_key(ip("2001:db8:1:2:aaaa::1")), ip("2001:db8:1:2::"));
        assert_eq!(address_key(ip("::ffff:192.0.2.7")), ip("192.0.2.7"));
        assert_eq!(address_key(ip("192.0.2.7")), ip("192.0.2.7"));
        let r = Registry::new(100, Some(2));
        let _a = ticket(r.admit(ip("2001:db8:1:2::1"))).unwrap();
        let _b = ticket(r.admit(ip("2001:db8:1:2::2"))).unwrap();
        assert!(ticket(r.admit(ip("2001:db8:1:2:ffff::3"))).is_none());
        assert!(ticket(r.admit(ip("2001:db8:1:3::1"))).is_some());
    }

    #[test]
    fn counts_are_freed_with_the_connections() {
        let r = Registry::new(8, Some(3));
        let held: Vec<_> = (0..3).map(|_| ticket(r.admit(ip("10.0.0.1"))).unwrap()).collect();
        assert!(ticket(r.admit(ip("10.0.0.1"))).is_none());
        assert_eq!(r.counts(), (3, 0, 1));
        drop(held);
        assert_eq!(r.counts(), (0, 0, 0));
        assert!(ticket(r.admit(ip("10.0.0.1"))).is_some());
    }

    #[test]
    fn a_full_pool_sheds_the_idle_connections_of_the_heaviest_address_first() {
        // A registry started two minutes ago, so that connections can be made to look old.
        let started = Instant::now().checked_sub(Duration::from_secs(120)).unwrap();
        let r = Registry::since(started, 4, None);
        let old = r.now_ms() - 60_000;
        let mut heavy: Vec<_> = (0..3).map(|_| ticket(r.admit(ip("10.0.0.1"))).unwrap().0).collect();
        let light = ticket(r.admit(ip("10.0.0.2"))).unwrap().0;
        for t in heavy.iter().chain([&light]) {
            t.conn.idle_since.store(old, Ordering::Relaxed);
        }
        // One of the heavy address's connections is busy: never shed.
        let _busy = heavy[0].conn.begin().unwrap();
        let (newcomer, reserve) = ticket(r.admit(ip("10.0.0.3"))).unwrap();
        assert!(!reserve);
        let shed: Vec<_> = heavy
            .iter()
            .filter(|t| t.conn.state.load(Ordering::Acquire) == SHED)
            .collect();
        assert_eq!(shed.len(), 1);
        assert_eq!(light.conn.state.load(Ordering::Acquire), IDLE);
        assert!(shed[0].conn.begin().is_none(), "une connexion délestée ne sert plus");
        // Its task ends: the place is freed once.
        heavy.retain(|t| t.conn.state.load(Ordering::Acquire) != SHED);
        assert_eq!(r.counts(), (4, 0, 3));
        drop(newcomer);
        assert_eq!(r.counts(), (3, 0, 2));
    }

    #[test]
    fn fresh_or_busy_connections_are_not_shed_and_the_reserve_takes_over() {
        let r = Registry::new(4, None);
        let held: Vec<_> = (0..4).map(|_| ticket(r.admit(ip("10.0.0.1"))).unwrap().0).collect();
        // Idle for less than MIN_IDLE: kept; the newcomer gets the reserve.
        let reserved: Vec<_> = (0..4)
            .map(|i| ticket(r.admit(ip(&format!("10.0.1.{i}")))).unwrap())
            .collect();
        assert!(reserved.iter().all(|(_, reserve)| *reserve));
        // Reserve full of requests in progress: refused.
        let _busy: Vec<_> = reserved.iter().map(|(t, _)| t.conn.begin().unwrap()).collect();
        assert!(ticket(r.admit(ip("10.0.2.1"))).is_none());
        assert_eq!(r.counts(), (4, 4, 5));
        drop(held);
    }

    #[test]
    fn in_the_reserve_the_longest_idle_connection_gives_way_at_once() {
        let r = Registry::new(4, None);
        let _normal: Vec<_> = (0..4).map(|_| ticket(r.admit(ip("10.0.0.1"))).unwrap().0).collect();
        let reserved: Vec<_> = (0..4).map(|_| ticket(r.admit(ip("10.0.0.9"))).unwrap()).collect();
        assert!(reserved.iter().all(|(_, reserve)| *reserve));
        // The probe of a load balancer: takes the place of the first idle reserve connection.
        let (probe, reserve) = ticket(r.admit(ip("10.0.0.50"))).unwrap();
        assert!(reserve);
        let shed = |v: &[(Ticket, bool)]| {
            v.iter()
                .map(|(t, _)| t.conn.state.load(Ordering::Acquire) == SHED)
                .collect::<Vec<_>>()
        };
        assert_eq!(shed(&reserved), [true, false, false, false]);
        // Newcomers holding nothing push out the others in turn, the probe (newest) last.
        let fresh = |i: usize| ticket(r.admit(ip(&format!("10.0.1.{i}")))).unwrap();
        let _more: Vec<_> = (0..3).map(fresh).collect();
        assert_eq!(shed(&reserved), [true, true, true, true]);
        assert_eq!(probe.conn.state.load(Ordering::Acquire), IDLE);
        // An address holding connections cannot push out those of addresses holding fewer.
        assert!(ticket(r.admit(ip("10.0.0.9"))).is_none());
        assert!(ticket(r.admit(ip("10.0.0.1"))).is_none());
        assert_eq!(probe.conn.state.load(Ordering::Acquire), IDLE);
        // A request in progress is never pushed out.
        let _checking = probe.conn.begin().unwrap();
        let _again: Vec<_> = (3..7).map(fresh).collect();
        assert_eq!(probe.conn.state.load(Ordering::Acquire), BUSY);
    }

    #[test]
    fn notices_are_rate_limited() {
        let n = Notice::default();
        assert_eq!(n.due(5), Some(0));
        assert_eq!(n.due(6), None);
        assert_eq!(n.due(7), None);
        assert_eq!(n.due(10_005), Some(2));
    }
}
