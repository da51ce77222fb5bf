package main

import "github.com/careerledger/careerledger/cmd/internal/secrets"

// checkDatabaseURL refuses a --database-url that PostgreSQL's client cannot
// read: a usage error naming the flag, as careerd's is, the setting masked.
func checkDatabaseURL(u string) error {
	if err := secrets.ConnectionStringError(u); err != nil {
		return usagef("--database-url ($DATABASE_URL) %q is not a PostgreSQL connection string "+
			"(postgres://user:password@host:5432/dbname?sslmode=..., or host=... dbname=... key=value pairs): %s", maskURL(u), err)
	}
	return nil
}

// maskURL is the secrets package's: migrate shows $DATABASE_URL as careerd
// does.
var maskURL = secrets.MaskURL
