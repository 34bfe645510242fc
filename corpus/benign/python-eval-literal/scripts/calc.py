import ast, sys
print(ast.literal_eval(sys.argv[1]))
print(eval("1 + 1"))
