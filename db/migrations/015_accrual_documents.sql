-- 015_accrual_documents: accrual_due (the bench's "same rows" insert and
-- nothing in the daemons since 013) joins a line to its payer's first
-- document of the month only: since 013 a month may hold several documents
-- per payer (the invoice, supplementary invoices, credit notes), and lines
-- are written by a run onto its own documents (accrual.c).
CREATE OR REPLACE FUNCTION accrual_due(p_period date)
RETURNS TABLE (enrolment_id bigint, jkk bigint, jkm bigint, invoice_id bigint)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT p.enrolment_id, p.jkk, p.jkm, i.id
    FROM accrual_premiums(p_period) p
    JOIN invoices i ON i.period = p_period AND i.funding_source = p.funding_source
                   AND i.payer_code = p.payer_code AND i.kind = 'invoice'
$$;
