-- History is evidence: refuse any change to it at the database, not only in the code
-- (PostgreSQL dialect of migrations/sqlite/0002).
CREATE FUNCTION skillgate_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
END;
$$;
CREATE TRIGGER tier_history_append_only BEFORE UPDATE OR DELETE ON tier_history
    FOR EACH ROW EXECUTE FUNCTION skillgate_refuse_change();
CREATE TRIGGER runtime_events_append_only BEFORE UPDATE OR DELETE ON runtime_events
    FOR EACH ROW EXECUTE FUNCTION skillgate_refuse_change();
CREATE TRIGGER reviews_append_only BEFORE UPDATE OR DELETE ON reviews
    FOR EACH ROW EXECUTE FUNCTION skillgate_refuse_change();
CREATE TRIGGER keys_append_only BEFORE UPDATE OR DELETE ON keys
    FOR EACH ROW EXECUTE FUNCTION skillgate_refuse_change();
CREATE TRIGGER signatures_append_only BEFORE UPDATE OR DELETE ON signatures
    FOR EACH ROW EXECUTE FUNCTION skillgate_refuse_change();
-- TRUNCATE bypasses row triggers; refuse it too.
CREATE TRIGGER tier_history_no_truncate BEFORE TRUNCATE ON tier_history
    FOR EACH STATEMENT EXECUTE FUNCTION skillgate_refuse_change();
CREATE TRIGGER runtime_events_no_truncate BEFORE TRUNCATE ON runtime_events
    FOR EACH STATEMENT EXECUTE FUNCTION skillgate_refuse_change();
CREATE TRIGGER reviews_no_truncate BEFORE TRUNCATE ON reviews
    FOR EACH STATEMENT EXECUTE FUNCTION skillgate_refuse_change();
CREATE TRIGGER keys_no_truncate BEFORE TRUNCATE ON keys
    FOR EACH STATEMENT EXECUTE FUNCTION skillgate_refuse_change();
CREATE TRIGGER signatures_no_truncate BEFORE TRUNCATE ON signatures
    FOR EACH STATEMENT EXECUTE FUNCTION skillgate_refuse_change();
