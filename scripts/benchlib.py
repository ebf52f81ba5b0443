"""What the benchmark scripts share (they import it from their own directory)."""
import os


def give_to_a_user(ws):
    """As root, the workspace is given to a user (uid and gid 1000, mode 0755), as a
    developer's project would be: root's phantom runs the workload as the workspace's
    owner, and a root-owned workspace only as nobody, who could not enter a 0700 one."""
    if os.geteuid() == 0:
        os.chown(ws, 1000, 1000)
        os.chmod(ws, 0o755)
