/*
 * unix_ifreq: the netdevice(7) interface ioctls on an AF_UNIX socket,
 * which Linux answers on sockets of every family (static glibc's
 * if_nametoindex asks an AF_UNIX socket).
 * Checks if_nametoindex("lo") == 1 and if_indextoname, SIOCGIFINDEX,
 * SIOCGIFNAME, SIOCGIFFLAGS, SIOCGIFMTU and SIOCGIFCONF, ENODEV for an
 * unknown name, and ENOTTY for the address requests (SIOCGIFADDR,
 * SIOCGIFNETMASK), which belong to the inet families.
 */
#include "test.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

static void unix_ifreq(void) {
  CHECK_EQ(if_nametoindex("lo"), 1);
  char name[IF_NAMESIZE];
  CHECK(if_indextoname(1, name) != NULL);
  CHECK(strcmp(name, "lo") == 0);
  CHECK_EQ(if_nametoindex("nosuchif0"), 0);

  int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
  CHECK_SYS(fd);
  struct ifreq r;
  memset(&r, 0, sizeof(r));
  strcpy(r.ifr_name, "lo");
  CHECK_SYS(ioctl(fd, SIOCGIFINDEX, &r));
  CHECK_EQ(r.ifr_ifindex, 1);
  CHECK_SYS(ioctl(fd, SIOCGIFFLAGS, &r));
  CHECK((r.ifr_flags & (IFF_UP | IFF_LOOPBACK)) == (IFF_UP | IFF_LOOPBACK));
  /* Address requests belong to the inet families. */
  CHECK_ERR(ioctl(fd, SIOCGIFADDR, &r), ENOTTY);
  CHECK_ERR(ioctl(fd, SIOCGIFNETMASK, &r), ENOTTY);
  memset(&r.ifr_ifru, 0, sizeof(r.ifr_ifru));
  r.ifr_ifindex = 1;
  CHECK_SYS(ioctl(fd, SIOCGIFNAME, &r));
  CHECK(strcmp(r.ifr_name, "lo") == 0);
  CHECK_SYS(ioctl(fd, SIOCGIFMTU, &r));
  CHECK(r.ifr_mtu > 0);
  strcpy(r.ifr_name, "nosuchif0");
  CHECK_ERR(ioctl(fd, SIOCGIFINDEX, &r), ENODEV);

  struct ifreq reqs[64];
  struct ifconf conf = {.ifc_len = sizeof(reqs), .ifc_req = reqs};
  CHECK_SYS(ioctl(fd, SIOCGIFCONF, &conf));
  int found = 0;
  for (int i = 0; i < conf.ifc_len / (int)sizeof(struct ifreq); i++)
    found |= strcmp(reqs[i].ifr_name, "lo") == 0;
  CHECK(found);
  /* Requests no socket answers stay ENOTTY. */
  CHECK_ERR(ioctl(fd, TCGETS, &r), ENOTTY);
  close(fd);
}

int main(void) {
  test_init();
  RUN(unix_ifreq);
  return 0;
}
