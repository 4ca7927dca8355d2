package main

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"infowork/auth"
	"infowork/webapp"
)

// envInt reads an integer variable within [lo, hi].
func envInt(name string, def, lo, hi int) (int, error) {
	v := os.Getenv(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("%s=%q: want an integer from %d to %d", name, v, lo, hi)
	}
	return n, nil
}

// envDuration reads a Go duration (30m, 12h) within [lo, hi].
func envDuration(name string, def, lo, hi time.Duration) (time.Duration, error) {
	v := os.Getenv(name)
	if v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < lo || d > hi {
		return 0, fmt.Errorf("%s=%q: want a duration such as 30m or 12h from %s to %s", name, v, lo, hi)
	}
	return d, nil
}

func (c *config) loadAccountConfig() error {
	var err error
	ints := []struct {
		dst         *int
		name        string
		def, lo, hi int
	}{
		{&c.PasswordMinLength, "INFOWORK_PASSWORD_MIN_LENGTH", 10, 8, 64},
		{&c.PasswordClasses, "INFOWORK_PASSWORD_CLASSES", 0, 0, 4},
		{&c.PasswordMaxAgeDays, "INFOWORK_PASSWORD_MAX_AGE_DAYS", 0, 0, 3650},
		{&c.PasswordHistory, "INFOWORK_PASSWORD_HISTORY", 5, 0, 24},
		{&c.RateLoginPerIP, "INFOWORK_RATE_LOGIN_PER_IP", 30, 0, 100000},
		{&c.RateLoginPerUser, "INFOWORK_RATE_LOGIN_PER_USER", 10, 0, 100000},
		{&c.RatePerSession, "INFOWORK_RATE_PER_SESSION", 600, 0, 1000000},
	}
	for _, v := range ints {
		if *v.dst, err = envInt(v.name, v.def, v.lo, v.hi); err != nil {
			return err
		}
	}
	if c.SessionIdle, err = envDuration("INFOWORK_SESSION_IDLE", 30*time.Minute, time.Minute, 24*time.Hour); err != nil {
		return err
	}
	if c.SessionMax, err = envDuration("INFOWORK_SESSION_MAX", 12*time.Hour, time.Minute, 30*24*time.Hour); err != nil {
		return err
	}
	if c.SessionIdle > c.SessionMax {
		return fmt.Errorf("INFOWORK_SESSION_IDLE (%s) is longer than INFOWORK_SESSION_MAX (%s)", c.SessionIdle, c.SessionMax)
	}
	c.SecretKey = os.Getenv("INFOWORK_SECRET_KEY")
	return nil
}

// authOptions builds the account service options. withKey loads the secret key that seals TOTP
// secrets: INFOWORK_SECRET_KEY, else DataDir/secret.key, created (0600) on first start.
func (c config) authOptions(log *slog.Logger, withKey bool) (auth.Options, error) {
	o := auth.Options{Logger: log, IdleTimeout: c.SessionIdle, AbsoluteTimeout: c.SessionMax,
		MinPasswordLength: c.PasswordMinLength, PasswordClasses: c.PasswordClasses,
		PasswordMaxAge: time.Duration(c.PasswordMaxAgeDays) * 24 * time.Hour, PasswordHistory: c.PasswordHistory}
	if c.PasswordHistory == 0 {
		o.PasswordHistory = -1 // the variable's 0 means off; the option's 0 means the default
	}
	if !withKey {
		return o, nil
	}
	var err error
	if c.SecretKey != "" {
		if o.SecretKey, err = auth.ParseKey(c.SecretKey); err != nil {
			return o, fmt.Errorf("INFOWORK_SECRET_KEY: %w", err)
		}
		return o, nil
	}
	path := filepath.Join(c.DataDir, "secret.key")
	if o.SecretKey, err = auth.LoadOrCreateKeyFile(path); err != nil {
		return o, err
	}
	log.Info("secret key from the data directory (set INFOWORK_SECRET_KEY to share one key between replicas)", "path", path)
	return o, nil
}

func (c config) rateLimits() webapp.RateLimits {
	off := func(n int) int { // the variable's 0 means off; the option's 0 means the default
		if n == 0 {
			return -1
		}
		return n
	}
	return webapp.RateLimits{LoginPerIP: off(c.RateLoginPerIP), LoginPerUser: off(c.RateLoginPerUser), PerSession: off(c.RatePerSession)}
}
