import ZnetdCore
print("znetd")
