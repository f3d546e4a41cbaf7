package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
)

// throwaway creates an empty database on the server of serverURL and
// returns its URL, its name, and a function that drops it.
func throwaway(ctx context.Context, serverURL, prefix string) (string, string, func(), error) {
	admin, err := sql.Open("pgx", serverURL)
	if err != nil {
		return "", "", nil, err
	}
	var b [6]byte
	rand.Read(b[:])
	name := prefix + hex.EncodeToString(b[:])
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		admin.Close()
		return "", "", nil, fmt.Errorf("create database: %w", err)
	}
	u, err := url.Parse(serverURL)
	if err != nil {
		admin.Close()
		return "", "", nil, err
	}
	u.Path = "/" + name
	return u.String(), name, func() {
		admin.ExecContext(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
		admin.Close()
	}, nil
}
