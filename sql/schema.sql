-- apikeyd fleet schema, version 1 (docs/decisions.md, "Fleet mode").
--
-- Load it once into the database the fleet shares, as its owner:
--   psql -v ON_ERROR_STOP=1 -1 -f schema.sql 'postgresql://...'
-- Every apikeyd of the fleet connects as a role that may read and write
-- these tables (README, "Fleet"). The daemons never change the schema: they
-- refuse to run against a version they do not know.
--
-- The records are apikeyd's own key and tenant records, byte for byte as
-- each host keeps them in LMDB (daemon/store_record.c); the version byte at
-- their head lets the format grow. A key record carries the key's keyed
-- hash, never the key: the pepper that keys the hash stays on the hosts.

CREATE SCHEMA apikeyd;

-- One row per schema version applied; upgrades add rows (see "Upgrades"
-- at the end of this file).
CREATE TABLE apikeyd.schema_version (
	version		integer PRIMARY KEY,
	applied_at	timestamptz NOT NULL DEFAULT now()
);

-- Tenants by name; group_name is resolved through NSS on each host, since
-- gids may differ between hosts. version is the changelog seq of the
-- change that wrote the row: a host applies a change only when it is newer
-- than what it holds, and a host writes with "WHERE version = <the version
-- it read>", so two hosts changing one row cannot both win.
CREATE TABLE apikeyd.tenants (
	id		text COLLATE "C" PRIMARY KEY,	-- the tenant name
	group_name	text NOT NULL,
	record		bytea NOT NULL,
	version		bigint NOT NULL DEFAULT 0
);

CREATE TABLE apikeyd.keys (
	id		text COLLATE "C" PRIMARY KEY,	-- the key id
	record		bytea NOT NULL,
	version		bigint NOT NULL DEFAULT 0
);

-- Proof that every host keys its hashes with the same pepper, without the
-- pepper: HMAC-SHA-256 keyed with it over a fixed string. The first host
-- to load a snapshot writes it; a host whose pepper gives another value
-- refuses to follow (none of its hashes would match the fleet's keys).
CREATE TABLE apikeyd.pepper (
	one		boolean PRIMARY KEY DEFAULT true CHECK (one),
	check_value	bytea NOT NULL
);

-- Fleet-wide credits will be leases: a host takes a chunk of a key's
-- credits in one conditional UPDATE of a table of their own, keyed by key
-- id, so that spending never rewrites (or conflicts with) a key record or
-- appends to the changelog. Until then, keys with credits are refused in
-- fleet mode. Last-used times and the audit log stay on each host.

-- Every change to a tenant or key: the whole new record, or NULL for a
-- deletion (a tombstone). kind is 'k' (keys) or 't' (tenants).
CREATE SEQUENCE apikeyd.changelog_seq AS bigint;
CREATE TABLE apikeyd.changelog (
	seq		bigint PRIMARY KEY,
	kind		"char" NOT NULL CHECK (kind IN ('k', 't')),
	id		text COLLATE "C" NOT NULL,
	record		bytea,
	at		timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX changelog_at ON apikeyd.changelog (at);

-- The highest seq that retention has deleted (0: none). A host that has
-- applied less than this must load a fresh snapshot: the rows it would
-- need are gone.
CREATE TABLE apikeyd.horizon (
	one		boolean PRIMARY KEY DEFAULT true CHECK (one),
	pruned_through	bigint NOT NULL DEFAULT 0
);
INSERT INTO apikeyd.horizon DEFAULT VALUES;

-- Sequence values are drawn before commit, so without more care a reader
-- could see seq N+1 committed while N is still open, move past N, and
-- never apply it. Every changelog writer therefore takes one transaction-
-- scoped advisory lock before drawing its seq and holds it to commit:
-- writers commit in seq order, and any snapshot holds a prefix of the
-- changelog (less the seqs of transactions that rolled back, which no one
-- will ever commit). apikeyd takes the same lock first thing in each of its
-- write transactions, so its row locks are always taken after it and two
-- writers cannot deadlock on the pair. 0x61706b79 is "apky".
--
-- One function, two triggers per table. BEFORE INSERT or UPDATE it takes
-- the lock, draws the seq and stamps it on the row as its version; AFTER
-- the row is written (or deleted: then it takes the lock and draws the
-- seq itself) it appends the changelog row and notifies. The changelog
-- row cannot be written BEFORE: PostgreSQL fires BEFORE INSERT for a row
-- that INSERT ... ON CONFLICT then drops (DO NOTHING) or turns into an
-- update (DO UPDATE, which fires BEFORE UPDATE too), so the changelog
-- would hold a record no table ever held. AFTER triggers fire only for
-- rows written; a seq drawn for a dropped row is a hole, like a rollback's.
CREATE FUNCTION apikeyd.log_change() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
	s	bigint;
	k	"char";
BEGIN
	IF TG_WHEN = 'BEFORE' THEN
		IF TG_OP = 'UPDATE' AND NEW.id <> OLD.id THEN
			RAISE EXCEPTION 'apikeyd: a % id never changes',
			    TG_TABLE_NAME;
		END IF;
		PERFORM pg_advisory_xact_lock(1634757497);
		NEW.version := nextval('apikeyd.changelog_seq');
		RETURN NEW;
	END IF;
	k := CASE TG_TABLE_NAME WHEN 'keys' THEN 'k' ELSE 't' END;
	IF TG_OP = 'DELETE' THEN
		PERFORM pg_advisory_xact_lock(1634757497);
		s := nextval('apikeyd.changelog_seq');
		INSERT INTO apikeyd.changelog (seq, kind, id, record)
		    VALUES (s, k, OLD.id, NULL);
	ELSE
		s := NEW.version;
		INSERT INTO apikeyd.changelog (seq, kind, id, record)
		    VALUES (s, k, NEW.id, NEW.record);
	END IF;
	PERFORM pg_notify('apikeyd', s::text);
	RETURN NULL;
END
$$;

CREATE TRIGGER keys_version BEFORE INSERT OR UPDATE
    ON apikeyd.keys FOR EACH ROW EXECUTE FUNCTION apikeyd.log_change();
CREATE TRIGGER keys_log AFTER INSERT OR UPDATE OR DELETE
    ON apikeyd.keys FOR EACH ROW EXECUTE FUNCTION apikeyd.log_change();
CREATE TRIGGER tenants_version BEFORE INSERT OR UPDATE
    ON apikeyd.tenants FOR EACH ROW EXECUTE FUNCTION apikeyd.log_change();
CREATE TRIGGER tenants_log AFTER INSERT OR UPDATE OR DELETE
    ON apikeyd.tenants FOR EACH ROW EXECUTE FUNCTION apikeyd.log_change();

-- TRUNCATE would change the tables without a changelog row: refuse it.
CREATE FUNCTION apikeyd.no_truncate() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'apikeyd: delete rows instead of truncating %',
	    TG_TABLE_NAME;
END
$$;
CREATE TRIGGER keys_no_truncate BEFORE TRUNCATE ON apikeyd.keys
    FOR EACH STATEMENT EXECUTE FUNCTION apikeyd.no_truncate();
CREATE TRIGGER tenants_no_truncate BEFORE TRUNCATE ON apikeyd.tenants
    FOR EACH STATEMENT EXECUTE FUNCTION apikeyd.no_truncate();

-- A deletion as apikeyd makes it: the row of kind ('k' or 't') and id,
-- only if its version is still want (NULL: whatever it is). Returns the
-- tombstone's seq, drawn by the AFTER trigger once the row is gone, or
-- NULL when no row matched. One statement, so that a host can send many
-- in a pipeline.
CREATE FUNCTION apikeyd.delete_record(kind "char", rid text, want bigint)
RETURNS bigint
LANGUAGE plpgsql AS $$
BEGIN
	IF kind = 'k' THEN
		DELETE FROM apikeyd.keys
		    WHERE id = rid AND (want IS NULL OR version = want);
	ELSE
		DELETE FROM apikeyd.tenants
		    WHERE id = rid AND (want IS NULL OR version = want);
	END IF;
	IF NOT FOUND THEN
		RETURN NULL;
	END IF;
	RETURN currval('apikeyd.changelog_seq');
END
$$;

-- Retention: deletes changelog rows older than keep, and moves the horizon
-- past them, in one transaction. Run it from cron or a systemd timer, for
-- example daily with '7 days': a host offline for longer loads a snapshot
-- when it comes back. Returns the rows deleted.
CREATE FUNCTION apikeyd.prune_changelog(keep interval) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
	top	bigint;
	n	bigint;
BEGIN
	-- Under the writers' lock, so no row older than the cut commits later.
	PERFORM pg_advisory_xact_lock(1634757497);
	SELECT max(seq) INTO top FROM apikeyd.changelog
	    WHERE at < now() - keep;
	IF top IS NULL THEN
		RETURN 0;
	END IF;
	DELETE FROM apikeyd.changelog WHERE seq <= top;
	GET DIAGNOSTICS n = ROW_COUNT;
	UPDATE apikeyd.horizon SET pruned_through = top
	    WHERE pruned_through < top;
	RETURN n;
END
$$;

-- What a host's digest is compared with: SHA-256 over one line per row,
-- kind, id, ':', version and a newline, keys ('k') first, then tenants
-- ('t'), each in bytewise id order: the order of the host's own index.
-- Run inside the snapshot whose head it describes.
CREATE FUNCTION apikeyd.digest() RETURNS bytea
LANGUAGE sql STABLE AS $$
	SELECT sha256(convert_to(coalesce(string_agg(
	    kind || id || ':' || version || E'\n', '' ORDER BY kind, id), ''),
	    'UTF8'))
	FROM (SELECT 'k'::text AS kind, id, version FROM apikeyd.keys
	      UNION ALL
	      SELECT 't'::text, id, version FROM apikeyd.tenants) AS rows
$$;

INSERT INTO apikeyd.schema_version (version) VALUES (1);

-- Upgrades: a later version of this file ends with the steps from each
-- earlier version, each guarded by the version it expects, for example
--   DO $$ BEGIN IF (SELECT max(version) FROM apikeyd.schema_version) = 1
--   THEN ALTER TABLE ...; INSERT INTO apikeyd.schema_version VALUES (2);
--   END IF; END $$;
