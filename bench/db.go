package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// benchDB is a database of this run's own on the local server.
type benchDB struct {
	admin string // the admin URL it was created with
	name  string
	url   string
	pool  *pgxpool.Pool
}

// createDB creates careerledger_bench_<random> and opens a pool on it.
func createDB(ctx context.Context, adminURL string) (*benchDB, error) {
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	admin, err := pgx.Connect(cctx, adminURL)
	if err != nil {
		return nil, fmt.Errorf("PostgreSQL at %s is not reachable (make services starts it): %w", adminURL, err)
	}
	defer admin.Close(context.WithoutCancel(ctx))
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "careerledger_bench_" + hex.EncodeToString(b[:])
	if _, err := admin.Exec(cctx, "CREATE DATABASE "+name); err != nil {
		return nil, fmt.Errorf("create database %s: %w", name, err)
	}
	u, err := url.Parse(adminURL)
	if err != nil {
		return nil, err
	}
	u.Path = "/" + name
	db := &benchDB{admin: adminURL, name: name, url: u.String()}
	pcfg, err := pgxpool.ParseConfig(db.url)
	if err != nil {
		return nil, err
	}
	pcfg.MaxConns = 8
	if db.pool, err = pgxpool.NewWithConfig(ctx, pcfg); err != nil {
		_ = db.drop()
		return nil, err
	}
	progress("created database %s", name)
	return db, nil
}

// drop closes the pool and drops the database.
func (db *benchDB) drop() error {
	if db.pool != nil {
		db.pool.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, db.admin)
	if err != nil {
		return err
	}
	defer admin.Close(ctx)
	_, err = admin.Exec(ctx, "DROP DATABASE IF EXISTS "+db.name+" WITH (FORCE)")
	if err == nil {
		progress("dropped database %s", db.name)
	}
	return err
}
