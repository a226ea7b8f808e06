"""An unbounded module-level cache: every request for a new key stores a
rendered page that is never evicted, beside per-request churn."""
import _target

_pages = {}


def render(user):
    return "<html><body>%s</body></html>" % ("<p>row %d</p>" % user * 8)  # LEAK


def handle(i):
    words = [str(w) for w in range(30)]  # churn, freed each request
    key = "user-%d" % i  # LEAK
    if key not in _pages:
        _pages[key] = render(i)  # LEAK
    return len(words)


if __name__ == "__main__":
    _target.serve(handle)
