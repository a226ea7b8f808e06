"""Observers registered on a long-lived event bus and never removed: each
bound method keeps its whole handler object alive."""
import _target


class EventBus:
    def __init__(self):
        self.listeners = []

    def subscribe(self, callback):
        self.listeners.append(callback)  # LEAK

    def publish(self, event):
        for cb in self.listeners[-3:]:
            cb(event)


BUS = EventBus()


class RequestHandler:
    def __init__(self, request_id):
        self.request_id = request_id  # LEAK
        self.state = {"id": request_id, "seen": []}  # LEAK
        BUS.subscribe(self.on_event)  # LEAK

    def on_event(self, event):
        self.state["seen"].append(event)


def handle(i):
    handler = RequestHandler(i)  # LEAK
    BUS.publish(i)
    return handler.request_id


if __name__ == "__main__":
    _target.serve(handle)
