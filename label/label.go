// Package label defines classification levels (密级) of records and clearances of users.
package label

import (
	"fmt"
	"strings"
)

// Level is a classification level; a higher value is more sensitive.
type Level int

const (
	Public       Level = iota // 公开
	Internal                  // 内部
	Secret                    // 秘密
	Confidential              // 机密
)

// Levels lists every level in ascending order.
var Levels = []Level{Public, Internal, Secret, Confidential}

var names = [...]string{"public", "internal", "secret", "confidential"}
var chinese = [...]string{"公开", "内部", "秘密", "机密"}

// String returns the contract name (public, internal, secret, confidential).
func (l Level) String() string {
	if l < Public || l > Confidential {
		return fmt.Sprintf("level(%d)", int(l))
	}
	return names[l]
}

// Chinese returns the zh-CN marking (公开, 内部, 秘密, 机密).
func (l Level) Chinese() string {
	if l < Public || l > Confidential {
		return "未知"
	}
	return chinese[l]
}

// Valid reports whether l is a defined level.
func (l Level) Valid() bool { return l >= Public && l <= Confidential }

// Parse accepts the contract name or the Chinese marking.
func Parse(s string) (Level, error) {
	s = strings.TrimSpace(strings.ToLower(s))
	for i := range names {
		if s == names[i] || s == chinese[i] {
			return Level(i), nil
		}
	}
	return 0, fmt.Errorf("unknown classification %q (want public, internal, secret or confidential)", s)
}

// Dominates reports whether a clearance may read a record at level l.
func (c Level) Dominates(l Level) bool { return c.Valid() && l.Valid() && c >= l }
