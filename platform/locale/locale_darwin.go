package locale

import (
	"context"
	"os"
)

// read uses the environment only; see Read.
func read(context.Context) (Locale, error) {
	vars := map[string]string{"LC_ALL": os.Getenv("LC_ALL"), "LANG": os.Getenv("LANG"), "LANGUAGE": os.Getenv("LANGUAGE")}
	return fromVars(vars, "environment"), nil
}
