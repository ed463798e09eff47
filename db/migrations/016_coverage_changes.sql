-- 016_coverage_changes: when an enrolment's months last changed. Billing
-- corrects a month already billed for the enrolments whose coverage changed
-- since (accrual.c, "Corrections" in docs/billing.md): an end (moved, left,
-- lapsed, a death), a cancellation, and also an end undone (a death
-- reported in error), which leaves no ended_at to find it by. Set by the
-- database on every change of start_month, end_month or status, so no
-- writer can forget it.
ALTER TABLE enrolments ADD COLUMN coverage_changed_at timestamptz;

CREATE FUNCTION enrolments_coverage_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.coverage_changed_at := clock_timestamp();
    RETURN NEW;
END $$;

CREATE TRIGGER enrolments_coverage_changed BEFORE UPDATE OF start_month, end_month, status
    ON enrolments FOR EACH ROW
    WHEN ((NEW.start_month, NEW.end_month, NEW.status)
          IS DISTINCT FROM (OLD.start_month, OLD.end_month, OLD.status))
    EXECUTE FUNCTION enrolments_coverage_changed();

UPDATE enrolments SET coverage_changed_at = ended_at WHERE ended_at IS NOT NULL;
CREATE INDEX enrolments_coverage_changed_idx ON enrolments (coverage_changed_at)
    WHERE coverage_changed_at IS NOT NULL;
