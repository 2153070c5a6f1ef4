"""localrag's tests: a package, so test modules share helpers by import (tests.helpers,
tests.fixtures, tests.<area>.<area>_support) instead of importing conftest by name."""
