"""Parent/child reference cycles with the cyclic GC disabled: every tree
built per request becomes garbage that is never collected."""
import gc

import _target


class Node:
    def __init__(self, parent=None):
        self.parent = parent  # LEAK
        self.children = []  # LEAK
        if parent is not None:
            parent.children.append(self)  # LEAK


def build_tree(i):
    root = Node()  # LEAK
    for _ in range(3):
        Node(root)  # LEAK
    return root


def handle(i):
    build_tree(i)  # dropped at once: only the cycles keep it


if __name__ == "__main__":
    gc.disable()
    _target.serve(handle)
