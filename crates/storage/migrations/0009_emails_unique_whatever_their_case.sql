-- An email address names one mailbox whatever its case: `OLIVIA@clinic.example` and
-- `olivia@clinic.example` must not be two users of one organisation, and either signs in.
-- lower() folds ASCII on SQLite; addresses are compared the same way on sign-in.
CREATE UNIQUE INDEX users_tenant_email_folded ON users (tenant_id, lower(email));
