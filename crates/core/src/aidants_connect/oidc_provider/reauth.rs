//! `max_age` and `prompt=login`: how recent the aidant's authentication must
//! be. The aidant's authentication time is his last TOTP check on the session
//! (a password alone never reaches the provider's pages); it becomes the ID
//! token's `auth_time`.
//!
//! When it is too old, the aidant is sent to enter a code again, and the
//! request comes back with a marker (`reauth=T.mac`) saying « a new check was
//! asked at T »: any check made after T then satisfies the request, whatever
//! `max_age` (0 for `prompt=login`), or the aidant would loop. The marker is a
//! MAC over the session, the client, the request's `state` and T: it proves
//! nothing for another session or request, and it lives as long as a TOTP
//! check stays fresh (15 minutes).

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::authorize::Request;
use crate::accounts::session::{self, Session};
use crate::aidants_connect::fresh::FRESH_TOTP_SECS;
use crate::keys::Keys;

/// Name of the marker's parameter (ignored by the request's reading).
pub const PARAM: &str = "reauth";

fn mac(keys: &Keys, session_token: &str, request: &Request, at: i64) -> String {
    let key = keys.subkey("oidc-reauthentification");
    let mut m =
        <Hmac<Sha256> as Mac>::new_from_slice(&key).unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    for part in [
        session::sid(session_token).as_str(),
        &request.client_id,
        request.state.as_deref().unwrap_or_default(),
        &at.to_string(),
    ] {
        m.update(part.as_bytes());
        m.update(b"\0");
    }
    hex::encode(m.finalize().into_bytes())
}

/// The marker of a new check asked at `at` (µs).
pub fn marker(keys: &Keys, session_token: &str, request: &Request, at: i64) -> String {
    format!("{at}.{}", mac(keys, session_token, request, at))
}

/// What the provider's pages must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Go on; the aidant authenticated at this time (µs).
    Fresh { auth_time: i64 },
    /// Ask a code again, then come back with this marker.
    Again { marker: String },
}

/// Whether the session's authentication satisfies the request at `now` (µs);
/// `given`: the marker the request came back with, if any.
pub fn decide(
    keys: &Keys,
    s: &Session,
    session_token: &str,
    request: &Request,
    given: Option<&str>,
    now: i64,
) -> Decision {
    let again = || Decision::Again {
        marker: marker(keys, session_token, request, now),
    };
    let Some(auth_time) = s.totp_verified_at.filter(|at| *at <= now) else {
        return again();
    };
    let Some(max_age) = request.max_age else {
        return Decision::Fresh { auth_time };
    };
    if now - auth_time <= max_age.saturating_mul(1_000_000) {
        return Decision::Fresh { auth_time };
    }
    let asked_at = given.and_then(|g| {
        let (at, m) = g.split_once('.')?;
        let at: i64 = at.parse().ok()?;
        let expected = mac(keys, session_token, request, at);
        let same: bool = subtle::ConstantTimeEq::ct_eq(expected.as_bytes(), m.as_bytes()).into();
        same.then_some(at)
    });
    match asked_at {
        Some(at) if auth_time >= at && now - at < FRESH_TOTP_SECS * 1_000_000 => Decision::Fresh { auth_time },
        _ => again(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::session::Stage;

    const S: i64 = 1_000_000;

    fn request(max_age: Option<i64>) -> Request {
        Request {
            client_id: "pc_service".into(),
            redirect_uri: "https://service.exemple.fr/retour".into(),
            scope: "openid".into(),
            state: Some("etat-1".into()),
            nonce: None,
            code_challenge: None,
            rep_scope: None,
            max_age,
            login_hint: None,
        }
    }

    fn session(totp_at: Option<i64>) -> Session {
        Session {
            account_id: 1,
            stage: Stage::Active,
            created_at: 0,
            structure_id: None,
            totp_verified_at: totp_at,
        }
    }

    fn keys() -> Keys {
        Keys::ephemeral()
    }

    #[test]
    fn without_max_age_the_last_check_is_the_auth_time() {
        let k = keys();
        let d = decide(&k, &session(Some(100 * S)), "jeton", &request(None), None, 500 * S);
        assert_eq!(d, Decision::Fresh { auth_time: 100 * S });
    }

    #[test]
    fn max_age_is_honoured_to_the_second() {
        let k = keys();
        let r = request(Some(60));
        let s = session(Some(100 * S));
        assert_eq!(
            decide(&k, &s, "jeton", &r, None, 160 * S),
            Decision::Fresh { auth_time: 100 * S }
        );
        let too_old = decide(&k, &s, "jeton", &r, None, 160 * S + 1);
        assert_eq!(
            too_old,
            Decision::Again {
                marker: marker(&k, "jeton", &r, 160 * S + 1)
            }
        );
        // No check at all, or one in the future: a new one.
        assert!(matches!(
            decide(&k, &session(None), "jeton", &request(None), None, S),
            Decision::Again { .. }
        ));
        assert!(matches!(
            decide(&k, &session(Some(2 * S)), "jeton", &request(None), None, S),
            Decision::Again { .. }
        ));
    }

    #[test]
    fn after_a_new_check_the_marker_lets_the_request_through() {
        let k = keys();
        let r = request(Some(0));
        let Decision::Again { marker: m } = decide(&k, &session(Some(100 * S)), "jeton", &r, None, 200 * S) else {
            panic!("prompt=login demande un nouveau code");
        };
        // The code entered after the marker: through, even minutes later.
        let checked = session(Some(210 * S));
        assert_eq!(
            decide(&k, &checked, "jeton", &r, Some(&m), 400 * S),
            Decision::Fresh { auth_time: 210 * S }
        );
        // A check made before the marker does not count.
        assert!(matches!(
            decide(&k, &session(Some(199 * S)), "jeton", &r, Some(&m), 400 * S),
            Decision::Again { .. }
        ));
        // Nor after 15 minutes.
        assert!(matches!(
            decide(&k, &checked, "jeton", &r, Some(&m), 200 * S + 15 * 60 * S),
            Decision::Again { .. }
        ));
        // Nor on another session, for another request, or altered.
        assert!(matches!(
            decide(&k, &checked, "autre", &r, Some(&m), 400 * S),
            Decision::Again { .. }
        ));
        let other = Request {
            state: Some("etat-2".into()),
            ..r.clone()
        };
        assert!(matches!(
            decide(&k, &checked, "jeton", &other, Some(&m), 400 * S),
            Decision::Again { .. }
        ));
        let forged = format!("{}.{}", 100 * S, m.split_once('.').map(|(_, x)| x).unwrap_or_default());
        assert!(matches!(
            decide(&k, &checked, "jeton", &r, Some(&forged), 400 * S),
            Decision::Again { .. }
        ));
        assert!(matches!(
            decide(&k, &checked, "jeton", &r, Some("n'importe quoi"), 400 * S),
            Decision::Again { .. }
        ));
    }
}
