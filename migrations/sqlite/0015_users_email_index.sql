-- "Forgot password?" may name an email address: find its users without scanning the table.
CREATE INDEX users_email_lower ON users (LOWER(email));
