//! The parser of PostgreSQL's binary COPY stream, on bytes PostgreSQL wrote.
//!
//! `testdata/copy-binaire-pg.bin` was written by PostgreSQL 15.18 (Debian 12)
//! with `\copy (SELECT seq, at, actor_account, actor_role, action, subjects,
//! details, prev_hash, hash FROM journal ORDER BY seq) TO … WITH (FORMAT
//! binary)`, from a `journal` table with the columns of the migrations and
//! the three rows of `expected()` (`sha256('a')` and so on computed by
//! PostgreSQL; the third row's hash cut to 31 bytes, as a tampered row would
//! be). The network stream cuts it anywhere, so it is fed here in chunks of
//! every size.

use sha2::{Digest, Sha256};

use super::chain::RawBatch;
use super::reader::CopyParser;

const PG_STREAM: &[u8] = include_bytes!("testdata/copy-binaire-pg.bin");

fn sha(s: &str) -> Vec<u8> {
    Sha256::digest(s.as_bytes()).to_vec()
}

fn expected() -> RawBatch {
    let mut b = RawBatch::default();
    let (a, h_b, c, d) = (sha("a"), sha("b"), sha("c"), sha("d"));
    b.push(
        1,
        1_700_000_000_000_000,
        Some(42),
        [
            b"operateur",
            b"pass.encaissement",
            br#"{"cheque":"c-1"}"#,
            br#"{"montant":1000}"#,
        ],
        &a,
        &h_b,
    );
    b.push(
        2,
        1_700_000_000_000_001,
        None,
        [
            b"systeme",
            b"journal.point",
            b"",
            "Médiathèque « Bordeaux » — été".as_bytes(),
        ],
        &h_b,
        &c,
    );
    b.push(3, -5, Some(-1), [b"", b"x", b"[]", b"{}"], &c, &d[..31]);
    b
}

fn same(a: &RawBatch, b: &RawBatch) -> bool {
    a.buf == b.buf && format!("{:?}", a.rows) == format!("{:?}", b.rows)
}

/// Feeds `bytes` in chunks of `size`, as `pg_read` does.
fn parse_chunked(bytes: &[u8], size: usize) -> Result<(RawBatch, CopyParser), String> {
    let mut p = CopyParser::default();
    let mut batch = RawBatch::default();
    for chunk in bytes.chunks(size) {
        p.buf.extend_from_slice(chunk);
        while p.next_entry(&mut batch).map_err(|e| e.to_string())? {}
        p.compact();
    }
    Ok((batch, p))
}

fn parse_error(bytes: &[u8]) -> String {
    match parse_chunked(bytes, bytes.len().max(1)) {
        Ok(_) => panic!("flux accepté"),
        Err(e) => e,
    }
}

#[test]
fn the_stream_postgresql_wrote_reads_back_in_chunks_of_every_size() {
    let want = expected();
    assert_eq!(want.len(), 3);
    for size in 1..=PG_STREAM.len() {
        let (got, p) = parse_chunked(PG_STREAM, size).unwrap_or_else(|e| panic!("taille {size} : {e}"));
        assert!(same(&got, &want), "taille {size} : {:?} ≠ {:?}", got.rows, want.rows);
        assert!(p.finished, "taille {size} : fin du flux non vue");
        assert!(p.buf.is_empty() && p.pos == 0, "taille {size} : tampon non compacté");
    }
}

#[test]
fn a_stream_cut_before_its_trailer_is_not_finished() {
    // Without the trailer (-1 as a column count), the stream is incomplete
    // and pg_read reports it; every tuple before the cut is kept.
    let cut = &PG_STREAM[..PG_STREAM.len() - 2];
    let (got, p) = parse_chunked(cut, 7).unwrap();
    assert!(!p.finished);
    assert_eq!(got.len(), 3);
    let (got, p) = parse_chunked(&PG_STREAM[..PG_STREAM.len() - 3], 7).unwrap();
    assert!(!p.finished);
    assert_eq!(got.len(), 2, "un tuple coupé n'est pas lu");
}

#[test]
fn the_header_is_consumed_as_soon_as_it_is_whole() {
    let mut p = CopyParser::default();
    let mut batch = RawBatch::default();
    p.buf.extend_from_slice(&PG_STREAM[..18]);
    assert!(!p.next_entry(&mut batch).unwrap());
    assert!(!p.header_done && p.pos == 0);
    p.buf.extend_from_slice(&PG_STREAM[18..19]);
    assert!(!p.next_entry(&mut batch).unwrap());
    assert!(p.header_done, "en-tête complet (19 octets, extension vide) non lu");
    assert_eq!(p.pos, 19);
    assert!(batch.is_empty());
}

#[test]
fn a_header_extension_is_skipped_whole() {
    // Flags then a 5-byte header extension, which readers must skip.
    let mut s = PG_STREAM[..15].to_vec();
    s.extend_from_slice(&5u32.to_be_bytes());
    s.extend_from_slice(b"\x01\x02\x03\x04\x05");
    s.extend_from_slice(&PG_STREAM[19..]);
    for size in [1, 3, 19, 23, 24, 25, s.len()] {
        let (got, p) = parse_chunked(&s, size).unwrap();
        assert!(same(&got, &expected()), "taille {size}");
        assert!(p.finished);
    }
    let mut p = CopyParser::default();
    p.buf.extend_from_slice(&s[..23]);
    assert!(!p.next_entry(&mut RawBatch::default()).unwrap());
    assert!(!p.header_done, "extension incomplète prise pour un en-tête");
    p.buf.push(s[23]);
    assert!(!p.next_entry(&mut RawBatch::default()).unwrap());
    assert!(p.header_done);
    assert_eq!(p.pos, 24);
}

#[test]
fn nothing_is_read_after_the_trailer() {
    let mut s = PG_STREAM.to_vec();
    s.extend_from_slice(&PG_STREAM[19..]); // more tuples after the end
    let (got, p) = parse_chunked(&s, s.len()).unwrap();
    assert_eq!(got.len(), 3);
    assert!(p.finished);
}

/// The first tuple of the stream, for the faults below.
fn first_tuple() -> (Vec<u8>, Vec<u8>) {
    (PG_STREAM[..19].to_vec(), PG_STREAM[19..].to_vec())
}

fn with_header(tuple: &[u8]) -> Vec<u8> {
    let (mut s, _) = first_tuple();
    s.extend_from_slice(tuple);
    s.extend_from_slice(&(-1i16).to_be_bytes());
    s
}

/// One tuple of nine fields; `None` is SQL NULL.
fn tuple(fields: &[Option<&[u8]>]) -> Vec<u8> {
    let mut t = (fields.len() as i16).to_be_bytes().to_vec();
    for f in fields {
        match f {
            None => t.extend_from_slice(&(-1i32).to_be_bytes()),
            Some(b) => {
                t.extend_from_slice(&(b.len() as i32).to_be_bytes());
                t.extend_from_slice(b);
            }
        }
    }
    t
}

#[test]
fn a_tuple_built_here_matches_the_one_postgresql_wrote() {
    // Guards the builder used by the fault tests below.
    let (a, b) = (sha("a"), sha("b"));
    let t = tuple(&[
        Some(&1i64.to_be_bytes()),
        Some(&1_700_000_000_000_000i64.to_be_bytes()),
        Some(&42i64.to_be_bytes()),
        Some(b"operateur"),
        Some(b"pass.encaissement"),
        Some(br#"{"cheque":"c-1"}"#),
        Some(br#"{"montant":1000}"#),
        Some(&a),
        Some(&b),
    ]);
    assert_eq!(&PG_STREAM[19..19 + t.len()], &t[..]);
}

fn fields<'a>(seq: Option<&'a [u8]>, at: Option<&'a [u8]>, account: Option<&'a [u8]>) -> Vec<Option<&'a [u8]>> {
    vec![
        seq,
        at,
        account,
        Some(b"r"),
        Some(b"a"),
        Some(b"s"),
        Some(b"d"),
        Some(&[0u8; 32]),
        Some(&[1u8; 32]),
    ]
}

#[test]
fn faults_in_the_stream_are_named() {
    let one = 1i64.to_be_bytes();
    let mut bad_sig = PG_STREAM.to_vec();
    bad_sig[5] = b'Z';
    assert!(parse_error(&bad_sig).contains("signature"), "{}", parse_error(&bad_sig));
    let eight = tuple(&fields(Some(&one), Some(&one), None)[..8]);
    assert!(parse_error(&with_header(&eight)).contains("nombre de colonnes"));
    let ten = {
        let mut f = fields(Some(&one), Some(&one), None);
        f.push(None);
        tuple(&f)
    };
    assert!(parse_error(&with_header(&ten)).contains("nombre de colonnes"));
    let no_seq = tuple(&fields(None, Some(&one), None));
    assert!(parse_error(&with_header(&no_seq)).contains("numéro nul"));
    let no_at = tuple(&fields(Some(&one), None, None));
    assert!(parse_error(&with_header(&no_at)).contains("date nulle"));
    let short_int = tuple(&fields(Some(&one[..4]), Some(&one), None));
    assert!(parse_error(&with_header(&short_int)).contains("entier"));
    // An empty value is not NULL: for an integer column it is a fault.
    let empty_account = tuple(&fields(Some(&one), Some(&one), Some(b"")));
    assert!(parse_error(&with_header(&empty_account)).contains("entier"));
}

#[test]
fn null_and_empty_texts_both_read_as_empty() {
    let one = 1i64.to_be_bytes();
    let mut f = fields(Some(&one), Some(&one), None);
    f[3] = Some(b"");
    f[5] = None;
    let (got, p) = parse_chunked(&with_header(&tuple(&f)), 5).unwrap();
    assert!(p.finished);
    let mut want = RawBatch::default();
    want.push(1, 1, None, [b"", b"a", b"", b"d"], &[0u8; 32], &[1u8; 32]);
    assert!(same(&got, &want), "{:?}", got.rows);
}

#[tokio::test]
async fn an_in_memory_database_is_refused_with_its_reason() {
    // The reader opens the database file again from its own thread: a
    // database in memory has no file to open.
    // (sqlx turns `:memory:` into a shared `file:sqlx-in-memory-N`, which no
    // other connection can open by that name.)
    for url in ["sqlite::memory:", "sqlite://journal-essai?mode=memory"] {
        let db = crate::db::Db::connect(url).await.unwrap();
        let (tx, _rx) = tokio::sync::mpsc::channel(1);
        let err = super::reader::start(&db, tx).await.unwrap_err().to_string();
        assert!(
            err.contains("une base SQLite en mémoire ne peut pas être vérifiée"),
            "{url} : {err}"
        );
    }
}

#[tokio::test]
async fn a_null_text_in_a_rebuilt_sqlite_table_reads_as_empty() {
    // Someone who rebuilds the tables without their NOT NULL can store a NULL.
    // It is read as an empty text (a NULL account as no account), so the
    // verifier names that entry, whose hash no longer matches, instead of
    // stopping on an unreadable column.
    let dir = std::env::temp_dir().join(format!("passerelle-lecteur-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("journal.sqlite");
    let _ = std::fs::remove_file(&path);
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(
        "CREATE TABLE journal (seq INTEGER, at INTEGER, actor_account INTEGER, actor_role TEXT, action TEXT, \
         subjects TEXT, details TEXT, prev_hash BLOB, hash BLOB);
         CREATE TABLE journal_checkpoints (n INTEGER, version INTEGER, seq INTEGER, debut INTEGER, head_hash BLOB, \
         at INTEGER, prev_checkpoint_hash BLOB, segment_hash BLOB, entry_hashes BLOB, key_id TEXT, signature BLOB);
         INSERT INTO journal VALUES (1, 5, NULL, 'systeme', NULL, '{}', '{}', zeroblob(32), zeroblob(32));",
    )
    .unwrap();
    drop(conn);
    let db = crate::db::Db::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::channel(4);
    let checkpoints = super::reader::start(&db, tx).await.unwrap();
    assert!(checkpoints.is_empty());
    let batch = rx.recv().await.unwrap().unwrap().unwrap();
    let mut want = RawBatch::default();
    want.push(1, 5, None, [b"systeme", b"", b"{}", b"{}"], &[0; 32], &[0; 32]);
    assert!(same(&batch, &want), "{:?}", batch.rows);
    assert!(rx.recv().await.unwrap().unwrap().is_none(), "fin du journal");
    db.close().await;
    let _ = std::fs::remove_dir_all(&dir);
}
