package records

import (
	"bytes"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/zkshare/zkshare/circuits"
	"github.com/zkshare/zkshare/zkhash"
)

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }

// Encode turns a value's text into its field element. Ordered types become
// unsigned integers below 2^BitWidth whose order is the values' order:
// signed types are offset by 2^(width-1), dates count days from 1970-01-01
// offset by 2^31, timestamps count seconds offset by 2^63. Strings become a
// 124-bit digest. The error never repeats the value.
func (f *Field) Encode(text string) (fr.Element, error) {
	var e fr.Element
	if f.Type == String {
		return StringDigest(text), nil
	}
	u, err := f.EncodeUint(text)
	if err != nil {
		return e, err
	}
	e.SetUint64(u)
	return e, nil
}

// StringDigest is a string's encoding.
func StringDigest(s string) fr.Element {
	return zkhash.Digest("zkshare/string/v1", []byte(s), circuits.StringBits)
}

// KeyDigest is a record key's encoding.
func KeyDigest(key string) fr.Element { return zkhash.KeyDigest(key) }

// EncodeUint encodes a non-string value as its ordered unsigned integer.
func (f *Field) EncodeUint(text string) (uint64, error) {
	w := f.BitWidth()
	switch f.Type {
	case Uint:
		v, err := strconv.ParseUint(text, 10, 64)
		if err != nil {
			return 0, errors.New("not an unsigned integer")
		}
		if w < 64 && v>>w != 0 {
			return 0, fmt.Errorf("out of range for uint%d", w)
		}
		return v, nil
	case Int:
		v, err := strconv.ParseInt(text, 10, 64)
		if err != nil {
			return 0, errors.New("not an integer")
		}
		return offsetSigned(v, w, "int")
	case Decimal:
		v, err := parseDecimal(text, f.Scale)
		if err != nil {
			return 0, err
		}
		return offsetSigned(v, w, "decimal")
	case Date:
		t, err := time.Parse(time.DateOnly, text)
		if err != nil {
			return 0, errors.New("not a date (want YYYY-MM-DD)")
		}
		days := t.Unix() / 86400
		return offsetSigned(days, 32, "date")
	case Timestamp:
		t, err := time.Parse(time.RFC3339, text)
		if err != nil {
			return 0, errors.New("not an RFC 3339 timestamp")
		}
		if t.Nanosecond() != 0 {
			return 0, errors.New("timestamp has fractional seconds")
		}
		return offsetSigned(t.Unix(), 64, "timestamp")
	case Bool:
		switch text {
		case "true":
			return 1, nil
		case "false":
			return 0, nil
		}
		return 0, errors.New("not a bool (want true or false)")
	case Enum:
		for i, v := range f.Values {
			if v == text {
				return uint64(i), nil
			}
		}
		return 0, errors.New("unknown enum value")
	}
	return 0, fmt.Errorf("%s values are not numbers", f.Type)
}

// MaxUint is the largest encoded value of the field.
func (f *Field) MaxUint() uint64 {
	w := f.BitWidth()
	if w >= 64 {
		return ^uint64(0)
	}
	return 1<<w - 1
}

func offsetSigned(v int64, w int, what string) (uint64, error) {
	if w < 64 {
		lim := int64(1) << (w - 1)
		if v < -lim || v >= lim {
			return 0, fmt.Errorf("out of range for %s%d", what, w)
		}
		return uint64(v + lim), nil
	}
	return uint64(v) ^ 1<<63, nil
}

// parseDecimal parses [-]digits[.digits] with at most scale fractional
// digits into an integer count of 10^-scale.
func parseDecimal(text string, scale int) (int64, error) {
	bad := errors.New("not a decimal number")
	s := text
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	whole, frac, hasDot := strings.Cut(s, ".")
	if whole == "" || (hasDot && frac == "") || !digits(whole) || !digits(frac) {
		return 0, bad
	}
	if len(frac) > scale {
		return 0, fmt.Errorf("more than %d decimal places", scale)
	}
	n, ok := new(big.Int).SetString(whole+frac+strings.Repeat("0", scale-len(frac)), 10)
	if !ok {
		return 0, bad
	}
	if neg {
		n.Neg(n)
	}
	if !n.IsInt64() {
		return 0, errors.New("out of range for decimal64")
	}
	return n.Int64(), nil
}

func digits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
