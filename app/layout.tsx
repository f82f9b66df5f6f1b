import type { Metadata } from 'next';
import type { ReactNode } from 'react';
import { Providers } from './providers';
import { Header } from './components/Header';
import './globals.css';

export const metadata: Metadata = {
  title: 'MEI — Multi-Edge Inference',
  description: 'Cross-camera person tracking jobs on edge nodes',
};

export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en">
      <body>
        <Providers>
          <Header />
          <main className="main">{children}</main>
        </Providers>
      </body>
    </html>
  );
}
